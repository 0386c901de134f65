// Validate payloads with ajv, a second JSON Schema implementation beside Python's
// jsonschema. Usage: node ajv-check.mjs SCHEMA.json PAYLOADS.json
// PAYLOADS.json is a list of [name, payload]; prints one line per invalid payload and
// exits 1 if there is any.
import { readFileSync } from "node:fs";
import Ajv from "ajv";
import addFormats from "ajv-formats";

const [schemaFile, payloadsFile] = process.argv.slice(2);
const ajv = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(readFileSync(schemaFile, "utf8")));
let invalid = 0;
for (const [name, payload] of JSON.parse(readFileSync(payloadsFile, "utf8"))) {
  if (!validate(payload)) {
    invalid += 1;
    console.log(`${name}: ${ajv.errorsText(validate.errors)}`);
  }
}
console.log(`ajv: ${invalid} invalid`);
process.exit(invalid ? 1 : 0);
