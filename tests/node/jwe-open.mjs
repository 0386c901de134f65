// Opens sealed persons with npm's `jose` (panva), an implementation nobody here wrote:
//   node jwe-open.mjs PRIVATE.jwk SEALED.json
// SEALED.json: [{"id": event id, "person_jwe": compact JWE}, ...]. Prints one JSON
// array: for each, the protected header and the plaintext as JSON, or the error.
import { readFileSync } from "node:fs";
import { compactDecrypt, importJWK } from "jose";

const jwk = JSON.parse(readFileSync(process.argv[2], "utf8"));
const key = await importJWK(jwk, "ECDH-ES+A256KW");
const sealed = JSON.parse(readFileSync(process.argv[3], "utf8"));
const out = [];
for (const { id, person_jwe: token } of sealed) {
  try {
    const { plaintext, protectedHeader } = await compactDecrypt(token, key);
    out.push({ id, header: protectedHeader, opened: JSON.parse(new TextDecoder().decode(plaintext)) });
  } catch (error) {
    out.push({ id, error: `${error.code || error.name}: ${error.message}` });
  }
}
console.log(JSON.stringify(out));
