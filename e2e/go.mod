module github.com/go-superoffice/sysuser/e2e

go 1.25

replace github.com/go-superoffice/sysuser => ../

require (
	github.com/chromedp/cdproto v0.159.0
	github.com/chromedp/chromedp v0.23.0
	github.com/go-superoffice/sysuser v0.0.0-00010101000000-000000000000
	github.com/golang-jwt/jwt/v5 v5.3.1
)

require (
	github.com/beevik/etree v1.8.1 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
)
