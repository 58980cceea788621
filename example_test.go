package sysuser_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-superoffice/sysuser"
	"github.com/go-superoffice/sysuser/sysusertest"
)

func ExampleParsePrivateKey() {
	data, err := os.ReadFile("testdata/key.xml") // .NET XML, as SuperOffice hands it out
	if err != nil {
		panic(err)
	}
	key, err := sysuser.ParsePrivateKey(data)
	if err != nil {
		panic(err)
	}
	fmt.Println("RSA", key.N.BitLen(), "bits")

	_, err = sysuser.ParsePrivateKey([]byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"))
	fmt.Println(errors.Is(err, sysuser.ErrInvalidKey))
	// Output:
	// RSA 2048 bits
	// true
}

func ExampleSigner_SignAt() {
	data, _ := os.ReadFile("testdata/key-pkcs1.pem")
	signer, err := sysuser.NewSigner(data)
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 11, 23, 13, 34, 0, 0, time.FixedZone("CET", 3600))
	signed, err := signer.SignAt("SuperOffice DevNet Node OIDC-8k8Q7DmBgo", at)
	if err != nil {
		panic(err)
	}
	parts := strings.Split(signed, ".")
	fmt.Println(strings.Join(parts[:2], "."))
	fmt.Println(len(parts[2]), "characters of base64 signature")
	// Output:
	// SuperOffice DevNet Node OIDC-8k8Q7DmBgo.202611231234
	// 344 characters of base64 signature
}

func ExampleClient_Exchange() {
	keyFile, _ := os.ReadFile("testdata/key.xml")
	signer, _ := sysuser.NewSigner(keyFile)

	// A fake SuperOffice; real code sets Environment instead of LoginURL.
	fake, err := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "my-app-token", PublicKey: signer.Public()})
	if err != nil {
		panic(err)
	}
	defer fake.Close()
	fake.AddTenant("Cust12345", "MyApp-8k8Q7DmBgo")

	client, err := sysuser.NewClient(sysuser.Config{
		LoginURL:         fake.URL,
		ApplicationToken: "my-app-token",
		PrivateKey:       keyFile,
	})
	if err != nil {
		panic(err)
	}
	res, err := client.Exchange(context.Background(), "Cust12345", "MyApp-8k8Q7DmBgo")
	if err != nil {
		panic(err)
	}
	fmt.Println(sysuser.RedactTicket(res.Ticket))
	webapi, _ := url.Parse(res.WebAPIURL) // on the tenant's own host, not fake.Root
	fmt.Println(webapi.Path)
	fmt.Println(res.ContextIdentifier)
	// Output:
	// 7T:…[redacted]
	// /Cust12345/api/
	// Cust12345
}

func ExampleAuthenticationError() {
	keyFile, _ := os.ReadFile("testdata/key.xml")
	signer, _ := sysuser.NewSigner(keyFile)
	fake, _ := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "my-app-token", PublicKey: signer.Public()})
	defer fake.Close()
	fake.AddTenant("Cust12345", "MyApp-8k8Q7DmBgo")

	client, _ := sysuser.NewClient(sysuser.Config{LoginURL: fake.URL, ApplicationToken: "my-app-token", Signer: signer})
	_, err := client.Exchange(context.Background(), "Cust12345", "a-token-the-tenant-never-issued")

	var refused *sysuser.AuthenticationError
	switch {
	case errors.As(err, &refused):
		fmt.Println("refused:", refused.Message)
	case errors.Is(err, sysuser.ErrInvalidToken):
		fmt.Println("SuperOffice's answer failed verification")
	case err != nil:
		fmt.Println("transport problem; try again later")
	}
	// Output:
	// refused: The system user token is not valid for this customer
}

func ExampleTenant_Ticket() {
	keyFile, _ := os.ReadFile("testdata/key.xml")
	signer, _ := sysuser.NewSigner(keyFile)
	fake, _ := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "my-app-token", PublicKey: signer.Public()})
	defer fake.Close()
	fake.AddTenant("Cust12345", "MyApp-8k8Q7DmBgo")
	client, _ := sysuser.NewClient(sysuser.Config{LoginURL: fake.URL, ApplicationToken: "my-app-token", Signer: signer})
	defer client.Close()

	// One handle per tenant, kept for as long as the application runs.
	tenant := client.Tenant("Cust12345", "MyApp-8k8Q7DmBgo")
	for i := 0; i < 3; i++ {
		res, err := tenant.Ticket(context.Background())
		if err != nil {
			panic(err)
		}
		fmt.Println(res.ContextIdentifier, sysuser.RedactTicket(res.Ticket))
	}
	fmt.Println("exchanges:", fake.Exchanges("Cust12345"))
	// Output:
	// Cust12345 7T:…[redacted]
	// Cust12345 7T:…[redacted]
	// Cust12345 7T:…[redacted]
	// exchanges: 1
}

func ExampleTenant_HTTPClient() {
	keyFile, _ := os.ReadFile("testdata/key.xml")
	signer, _ := sysuser.NewSigner(keyFile)
	fake, _ := sysusertest.NewServer(sysusertest.Options{ApplicationToken: "my-app-token", PublicKey: signer.Public()})
	defer fake.Close()
	fake.AddTenant("Cust12345", "MyApp-8k8Q7DmBgo")
	client, _ := sysuser.NewClient(sysuser.Config{LoginURL: fake.URL, ApplicationToken: "my-app-token", Signer: signer})
	defer client.Close()

	ctx := context.Background()
	tenant := client.Tenant("Cust12345", "MyApp-8k8Q7DmBgo")
	base, err := tenant.WebAPIURL(ctx)
	if err != nil {
		panic(err)
	}
	webapi := tenant.HTTPClient()
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"v1/Contact/2", nil)
		resp, err := webapi.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(resp.Status)
	}
	// The credentials go to the tenant's WebApi only.
	_, err = webapi.Get("https://example.com/collect")
	fmt.Println(errors.Is(err, sysuser.ErrNotWebAPI))
	fmt.Println("exchanges:", fake.Exchanges("Cust12345"))
	// Output:
	// 200 OK
	// 200 OK
	// 200 OK
	// true
	// exchanges: 1
}
