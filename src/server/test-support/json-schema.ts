/**
 * A checker for the subset of JSON Schema (2020-12, as OpenAPI 3.1 uses it) that the bridge's
 * description uses: `$ref` (local), `type` (one or a list), `const`, `enum`, `properties`,
 * `required`, `additionalProperties`, `items`, `oneOf`, `anyOf`, `minimum`, `minLength`, and the
 * annotations `description`, `format`, `title`. Any other keyword throws, so the description
 * cannot use one that is silently not checked.
 */
type Schema = Record<string, unknown>;

const KNOWN = new Set(["$ref", "type", "const", "enum", "properties", "required", "additionalProperties", "items", "oneOf", "anyOf", "minimum", "minLength", "description", "format", "title"]);

/** The problems of `value` against `schema` (empty when it conforms); `root` resolves `#/...` refs. */
export function checkSchema(schema: Schema, value: unknown, root: Schema, path = "$"): string[] {
  for (const key of Object.keys(schema)) if (!KNOWN.has(key)) throw new Error(`unsupported schema keyword ${key} at ${path}`);
  if (typeof schema.$ref === "string") return checkSchema(resolve(schema.$ref, root), value, root, path);
  const problems: string[] = [];
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((t) => isType(value, t))) return [`${path}: expected ${types.join(" or ")}, got ${describe(value)}`];
  }
  if ("const" in schema && value !== schema.const) problems.push(`${path}: expected ${JSON.stringify(schema.const)}, got ${JSON.stringify(value)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) problems.push(`${path}: expected one of ${JSON.stringify(schema.enum)}, got ${JSON.stringify(value)}`);
  if (typeof schema.minimum === "number" && typeof value === "number" && value < schema.minimum) problems.push(`${path}: below ${schema.minimum}`);
  if (typeof schema.minLength === "number" && typeof value === "string" && value.length < schema.minLength) problems.push(`${path}: shorter than ${schema.minLength}`);
  if (isObject(value)) problems.push(...checkObject(schema, value, root, path));
  if (Array.isArray(value) && schema.items !== undefined) value.forEach((item, i) => problems.push(...checkSchema(schema.items as Schema, item, root, `${path}[${i}]`)));
  if (Array.isArray(schema.anyOf) && !(schema.anyOf as Schema[]).some((s) => checkSchema(s, value, root, path).length === 0)) problems.push(`${path}: matches none of anyOf`);
  if (Array.isArray(schema.oneOf)) {
    const results = (schema.oneOf as Schema[]).map((s) => checkSchema(s, value, root, path));
    const matches = results.filter((r) => r.length === 0).length;
    if (matches !== 1) problems.push(`${path}: matches ${matches} of oneOf (exactly one expected): ${results.map((r) => r.join("; ")).join(" | ")}`);
  }
  return problems;
}

function checkObject(schema: Schema, value: Record<string, unknown>, root: Schema, path: string): string[] {
  const problems: string[] = [];
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  for (const name of (schema.required ?? []) as string[]) if (!(name in value)) problems.push(`${path}: missing ${name}`);
  for (const [name, item] of Object.entries(value)) {
    const itemPath = `${path}.${name}`;
    const declared = properties[name];
    if (declared !== undefined) problems.push(...checkSchema(declared, item, root, itemPath));
    else if (schema.additionalProperties === false) problems.push(`${itemPath}: not described`);
    else if (isObject(schema.additionalProperties)) problems.push(...checkSchema(schema.additionalProperties, item, root, itemPath));
  }
  return problems;
}

function resolve(ref: string, root: Schema): Schema {
  if (!ref.startsWith("#/")) throw new Error(`only local refs are supported: ${ref}`);
  let node: unknown = root;
  for (const part of ref.slice(2).split("/")) node = isObject(node) ? node[part] : undefined;
  if (!isObject(node)) throw new Error(`unresolved ref ${ref}`);
  return node;
}

function isType(value: unknown, type: string): boolean {
  switch (type) {
    case "null":
      return value === null;
    case "integer":
      return Number.isInteger(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "array":
      return Array.isArray(value);
    case "object":
      return isObject(value);
    case "string":
    case "boolean":
      return typeof value === type;
    default:
      throw new Error(`unknown type ${type}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
}
