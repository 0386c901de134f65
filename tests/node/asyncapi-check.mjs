// The contract as the official AsyncAPI tools see it. Parses the document with
// @asyncapi/parser (what `asyncapi validate` runs), prints every diagnostic, then
// validates every message example against its resolved payload schema with ajv, a
// JSON Schema implementation nobody here wrote. Exit 1 on any error.
// Usage: node asyncapi-check.mjs contract/asyncapi.yaml
import { resolve } from "node:path";
import { Parser, fromFile } from "@asyncapi/parser";
import Ajv from "ajv";
import addFormats from "ajv-formats";

const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, resolve(process.argv[2])).parse();
const severities = ["error", "warning", "information", "hint"];
for (const d of diagnostics) {
  console.log(`${severities[d.severity]} ${d.code} ${d.path.join("/")}: ${d.message}`);
}
let failed = !document || diagnostics.some((d) => d.severity === 0);
if (document) {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  for (const message of document.allMessages().all()) {
    const schema = message.payload().json();
    const validate = ajv.compile(schema.schema ?? schema);
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
}
process.exit(failed ? 1 : 0);
