module github.com/go-superoffice/sysuser

go 1.24

require (
	github.com/beevik/etree v1.8.1
	github.com/golang-jwt/jwt/v5 v5.3.1
)
