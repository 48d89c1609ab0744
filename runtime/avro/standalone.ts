/**
 * Turns the named types of an Avro protocol (what IDL compiles to) into one self-contained schema
 * per root record, as a registry needs it: each referenced named type is defined inline at its
 * first use, later uses refer to it by full name, and every definition states its namespace, so
 * the result means the same wherever it is read. Works on the JSON as written: every attribute
 * (enum defaults, logical types, custom properties) survives, unlike avsc's re-export.
 */
type Json = Record<string, unknown>;

const primitives = new Set(["null", "boolean", "int", "long", "float", "double", "bytes", "string"]);
const namedKinds = new Set(["record", "error", "enum", "fixed"]);

const isNamedDefinition = (t: unknown): boolean => typeof t === "object" && t !== null && !Array.isArray(t) && namedKinds.has((t as Json).type as string);

function qualify(name: string, namespace: string | undefined): { full: string; namespace: string | undefined } {
  const dot = name.lastIndexOf(".");
  if (dot >= 0) return { full: name, namespace: name.slice(0, dot) };
  return { full: namespace ? `${namespace}.${name}` : name, namespace };
}

/** The namespace a definition's own name lives in, given the namespace around it. */
const namespaceOf = (def: Json, enclosing: string | undefined) =>
  qualify(def.name as string, typeof def.namespace === "string" ? def.namespace || undefined : enclosing).namespace;
const fullNameOf = (def: Json, enclosing: string | undefined) =>
  qualify(def.name as string, typeof def.namespace === "string" ? def.namespace || undefined : enclosing).full;

/** The same object with `first` keys leading, in that order: the order people expect to read. */
function ordered(o: Json, first: string[]): Json {
  const out: Json = {};
  for (const k of first) if (k in o) out[k] = o[k];
  return Object.assign(out, o);
}

/** Every named definition reachable in `types`, by full name, with the namespace it was found in. */
export function indexNamedTypes(types: unknown[], namespace: string | undefined): Map<string, { def: Json; namespace: string | undefined }> {
  const index = new Map<string, { def: Json; namespace: string | undefined }>();
  const visit = (t: unknown, ns: string | undefined): void => {
    if (Array.isArray(t)) {
      for (const b of t) visit(b, ns);
      return;
    }
    if (typeof t !== "object" || t === null) return;
    const o = t as Json;
    if (isNamedDefinition(o)) {
      index.set(fullNameOf(o, ns), { def: o, namespace: ns });
      const inner = namespaceOf(o, ns);
      for (const f of (o.fields as Json[] | undefined) ?? []) visit(f.type, inner);
      return;
    }
    if (o.type === "array") visit(o.items, ns);
    else if (o.type === "map") visit(o.values, ns);
    else if (typeof o.type === "object") visit(o.type, ns);
  };
  for (const t of types) visit(t, namespace);
  return index;
}

/** Full names of the records no other type refers to: the events a protocol defines. */
export function rootRecords(types: unknown[], namespace: string | undefined): string[] {
  const index = indexNamedTypes(types, namespace);
  const referenced = new Set<string>();
  for (const { def, namespace: ns } of index.values()) {
    const inner = namespaceOf(def, ns);
    const refs = (t: unknown): void => {
      if (typeof t === "string") {
        if (!primitives.has(t)) referenced.add(qualify(t, inner).full);
      } else if (Array.isArray(t)) t.forEach(refs);
      else if (isNamedDefinition(t)) referenced.add(fullNameOf(t as Json, inner));
      else if (typeof t === "object" && t !== null) {
        const o = t as Json;
        refs(o.type === "array" ? o.items : o.type === "map" ? o.values : typeof o.type === "object" ? o.type : undefined);
      }
    };
    for (const f of (def.fields as Json[] | undefined) ?? []) refs(f.type);
  }
  return [...index].filter(([name, { def }]) => (def.type === "record" || def.type === "error") && !referenced.has(name)).map(([name]) => name);
}

/** The self-contained schema of `root` (a full name present in `types`). Throws on an undefined reference. */
export function standaloneSchema(types: unknown[], namespace: string | undefined, root: string): Json {
  const index = indexNamedTypes(types, namespace);
  const defined = new Set<string>();
  const emitNamed = (full: string): unknown => {
    if (defined.has(full)) return full;
    const entry = index.get(full);
    if (!entry) throw new Error(`undefined type name: ${full}`);
    defined.add(full);
    const { def, namespace: ns } = entry;
    const inner = namespaceOf(def, ns);
    const { namespace: _drop, ...rest } = def;
    const out: Json = { ...rest, name: full.slice(full.lastIndexOf(".") + 1), ...(inner ? { namespace: inner } : {}) };
    if (Array.isArray(def.fields))
      out.fields = (def.fields as Json[]).map((f) => ordered({ ...f, type: emit(f.type, inner) }, ["name", "type", "doc", "default"]));
    return ordered(out, ["type", "name", "namespace", "doc", "aliases"]);
  };
  const emit = (t: unknown, ns: string | undefined): unknown => {
    if (typeof t === "string") return primitives.has(t) ? t : emitNamed(resolve(t, ns));
    if (Array.isArray(t)) return t.map((b) => emit(b, ns));
    if (isNamedDefinition(t)) return emitNamed(fullNameOf(t as Json, ns));
    if (typeof t !== "object" || t === null) return t;
    const o = t as Json;
    if (o.type === "array") return { ...o, items: emit(o.items, ns) };
    if (o.type === "map") return { ...o, values: emit(o.values, ns) };
    if (typeof o.type === "object" || (typeof o.type === "string" && !primitives.has(o.type))) return { ...o, type: emit(o.type, ns) };
    return o;
  };
  // A bare name means: this namespace first, then the null namespace.
  const resolve = (name: string, ns: string | undefined) => {
    const q = qualify(name, ns).full;
    return index.has(q) || name.includes(".") ? q : name;
  };
  return emitNamed(root) as Json;
}
