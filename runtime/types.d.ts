declare module "*.sql" {
  const text: string;
  export default text;
}

// Files embedded in the compiled binary with `import path from "..." with { type: "file" }`.
declare module "*.wasm" {
  const path: string;
  export default path;
}
declare module "*.data" {
  const path: string;
  export default path;
}
declare module "*.bundle" {
  const path: string;
  export default path;
}
declare module "*.gz" {
  const path: string;
  export default path;
}
