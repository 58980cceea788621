const crypto = require('crypto'); const fs = require('fs');
const key = crypto.createPrivateKey(fs.readFileSync('key-pkcs1.pem'));
const j = key.export({format:'jwk'});
const b = s => Buffer.from(s, 'base64url').toString('base64');
const split = s => s.match(/.{1,64}/g).join('\r\n\t\t');
const f = (n, v) => `\t<${n}>${split(b(v))}</${n}>\r\n`;
let x = '\ufeff<?xml version="1.0" encoding="utf-8"?>\r\n<RSAKeyValue>\r\n' + f('Modulus', j.n) + f('Exponent', j.e) + f('P', j.p) + f('Q', j.q) + f('DP', j.dp) + f('DQ', j.dq) + f('InverseQ', j.qi) + f('D', j.d) + '</RSAKeyValue>\r\n';
fs.writeFileSync('key.xml', x);
// compact form as RSACryptoServiceProvider.ToXmlString(true) writes it
let c = '<RSAKeyValue>' + ['Modulus','Exponent','P','Q','DP','DQ','InverseQ','D'].map((n,i)=>`<${n}>${b(j[['n','e','p','q','dp','dq','qi','d'][i]])}</${n}>`).join('') + '</RSAKeyValue>';
fs.writeFileSync('key-compact.xml', c);
// vector
const token = process.argv[2], ts = process.argv[3];
const data = token + '.' + ts;
const sig = crypto.sign('sha256', Buffer.from(data, 'utf8'), key).toString('base64');
console.log(data + '.' + sig);
