module github.com/go-superoffice/sysuser/redisstore

go 1.24

require (
	github.com/go-superoffice/sysuser v0.1.0
	github.com/redis/go-redis/v9 v9.22.0
)

require (
	github.com/beevik/etree v1.8.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	golang.org/x/sys v0.30.0 // indirect
)
