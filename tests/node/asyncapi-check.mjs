// The contract as the official AsyncAPI tools see it. Parses the document with
// @asyncapi/parser (what `asyncapi validate` runs), prints every diagnostic, then
// validates every message example against its resolved payload schema with ajv, a
// JSON Schema implementation nobody here wrote. Given PAYLOADS.json too (a list of
// [message name, payload], e.g. what a station published), validates each payload
// against its message's schema the same way. Exit 1 on any error.
// Usage: node asyncapi-check.mjs contract/asyncapi.yaml [PAYLOADS.json]
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Parser, fromFile } from "@asyncapi/parser";
import Ajv from "ajv";
import addFormats from "ajv-formats";

const [documentFile, payloadsFile] = process.argv.slice(2);
const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, resolve(documentFile)).parse();
const severities = ["error", "warning", "information", "hint"];
for (const d of diagnostics) {
  console.log(`${severities[d.severity]} ${d.code} ${d.path.join("/")}: ${d.message}`);
}
let failed = !document || diagnostics.some((d) => d.severity === 0);
if (document) {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const byName = new Map();
  for (const message of document.allMessages().all()) {
    const schema = message.payload().json();
    const validate = ajv.compile(schema.schema ?? schema);
    byName.set(message.name(), validate);
    const examples = message.examples().all();
    if (examples.length === 0) {
      console.log(`error ${message.id()}: no example`);
      failed = true;
    }
    for (const example of examples) {
      if (!validate(example.payload())) {
        console.log(`error ${message.id()} example ${example.name()}: ` +
                    ajv.errorsText(validate.errors));
        failed = true;
      }
    }
  }
  const ids = document.allMessages().all().map((m) => m.id());
  console.log(`parsed: ${document.info().title()} ${document.info().version()}; ` +
              `${ids.length} messages, every example valid: ${!failed}`);
  if (payloadsFile) {
    const payloads = JSON.parse(readFileSync(payloadsFile, "utf8"));
    let invalid = 0;
    for (const [n, [name, payload]] of payloads.entries()) {
      const validate = byName.get(name);
      if (!validate || !validate(payload)) {
        invalid += 1;
        console.log(`error payload ${n} (${name}): ` +
                    (validate ? ajv.errorsText(validate.errors) : "no such message"));
      }
    }
    console.log(`payloads: ${payloads.length}, invalid: ${invalid}`);
    failed ||= invalid > 0;
  }
}
process.exit(failed ? 1 : 0);
