module github.com/go-superoffice/sysuser

go 1.24

require (
	github.com/beevik/etree v1.8.1 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	golang.org/x/sync v0.24.0 // indirect
)
