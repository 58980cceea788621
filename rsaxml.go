package sysuser

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"encoding/xml"
	"math/big"
)

// xmlKey is RSAKeyValue as .NET's RSACryptoServiceProvider.ToXmlString
// writes it. Element names match in any namespace (some tools add the
// xmldsig one).
type xmlKey struct {
	XMLName  xml.Name `xml:"RSAKeyValue"`
	Modulus  string   `xml:"Modulus"`
	Exponent string   `xml:"Exponent"`
	P        string   `xml:"P"`
	Q        string   `xml:"Q"`
	DP       string   `xml:"DP"`
	DQ       string   `xml:"DQ"`
	InverseQ string   `xml:"InverseQ"`
	D        string   `xml:"D"`
}

// parseXMLKey parses a .NET XML RSA private key. data has no BOM and no
// surrounding white space.
func parseXMLKey(data []byte) (*rsa.PrivateKey, error) {
	var k xmlKey
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	if err := dec.Decode(&k); err != nil {
		if _, ok := err.(xml.UnmarshalError); ok {
			return nil, keyError("XML is not an RSAKeyValue element")
		}
		return nil, keyError("XML is malformed or truncated")
	}
	if k.D == "" && k.P == "" && k.Q == "" {
		return nil, keyError("XML holds a public key only (no D, P, Q); the signing key is the private one")
	}
	var n, e, p, q, dp, dq, qinv, d *big.Int
	for _, f := range []struct {
		name, text string
		dst        **big.Int
	}{
		{"Modulus", k.Modulus, &n}, {"Exponent", k.Exponent, &e},
		{"P", k.P, &p}, {"Q", k.Q, &q}, {"DP", k.DP, &dp}, {"DQ", k.DQ, &dq},
		{"InverseQ", k.InverseQ, &qinv}, {"D", k.D, &d},
	} {
		v, err := xmlInt(f.name, f.text)
		if err != nil {
			return nil, err
		}
		*f.dst = v
	}
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
		return nil, keyError("Exponent is out of range")
	}
	key := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: n, E: int(e.Int64())},
		D:         d,
		Primes:    []*big.Int{p, q},
	}
	key, err := finishKey(key)
	if err != nil {
		return nil, err
	}
	if !checkCRT(key, dp, dq, qinv) {
		return nil, keyError("DP, DQ or InverseQ does not match P, Q and D")
	}
	return key, nil
}

// xmlInt decodes one base64 big-endian integer, ignoring any white space.
func xmlInt(name, text string) (*big.Int, error) {
	clean := stripSpace(text)
	if clean == "" {
		return nil, keyError("XML element " + name + " is missing or empty")
	}
	b, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		return nil, keyError("XML element " + name + " is not valid base64")
	}
	v := new(big.Int).SetBytes(b)
	if v.Sign() == 0 {
		return nil, keyError("XML element " + name + " is zero")
	}
	return v, nil
}

func stripSpace(s string) string {
	return string(bytes.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, []byte(s)))
}
