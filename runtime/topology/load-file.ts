import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import * as v from "valibot";
import { LineCounter, parseDocument } from "yaml";
import { TopologyFileError } from "../errors.ts";
import { topologyFileSchema, type TopologyFile } from "./file-schema.ts";

export interface ParsedTopologyFile {
  file: string;
  document: TopologyFile;
  /** `file:line` of a path in the document (the nearest existing parent when the path is missing). */
  locate(pathInDocument: Array<string | number>): string;
}

/**
 * Reads topology files: each path is a YAML file or a directory of `*.yaml` / `*.yml` files.
 * Every problem of every file is reported at once, each with file, line, path and what was expected.
 */
export async function loadTopologyFiles(paths: string[]): Promise<ParsedTopologyFile[]> {
  const files: string[] = [];
  const problems: string[] = [];
  for (const p of paths) {
    const info = await stat(p).catch(() => null);
    if (!info) problems.push(`${p}: no such file or directory`);
    else if (info.isDirectory()) {
      const names = (await readdir(p)).filter((n) => /\.ya?ml$/.test(n)).sort();
      if (names.length === 0) problems.push(`${p}: the directory has no .yaml or .yml files`);
      files.push(...names.map((n) => path.join(p, n)));
    } else files.push(p);
  }
  const parsed: ParsedTopologyFile[] = [];
  for (const file of files) {
    const result = parseTopologyText(file, await readFile(file, "utf8"));
    if ("problems" in result) problems.push(...result.problems);
    else parsed.push(result);
  }
  if (problems.length > 0) throw new TopologyFileError(problems);
  return parsed;
}

/** Parses and validates one document's text; `file` only names it in messages. */
export function parseTopologyText(file: string, text: string): ParsedTopologyFile | { problems: string[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => `${file}:${lineCounter.linePos(offset).line}`;
  if (doc.errors.length > 0) {
    return { problems: doc.errors.map((e) => `${at(e.pos[0])}: not valid YAML: ${e.message.split("\n")[0]}`) };
  }
  const locate = (pathInDocument: Array<string | number>) => {
    for (let n = pathInDocument.length; n >= 0; n--) {
      const node = doc.getIn(pathInDocument.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return at(node.range[0]);
    }
    return file;
  };
  const parsed = v.safeParse(topologyFileSchema, doc.toJS() ?? {});
  if (!parsed.success) {
    return { problems: parsed.issues.map((issue) => describeIssue(issue, locate)) };
  }
  return { file, document: parsed.output, locate };
}

function describeIssue(issue: v.BaseIssue<unknown>, locate: ParsedTopologyFile["locate"]): string {
  const keys = (issue.path ?? []).map((p) => p.key as string | number);
  const where = formatPath(keys);
  if (issue.expected === "never") return `${locate(keys)}: ${where}: unknown key; ${issue.message}`;
  if (issue.input === undefined) return `${locate(keys)}: ${where}: is required`;
  return `${locate(keys)}: ${where || "(document)"}: ${issue.message}, got ${JSON.stringify(issue.input)}`;
}

/** `topics["orders.placed"].partitions`: dotted names stay readable as one key. */
export function formatPath(keys: Array<string | number>): string {
  return keys
    .map((k, i) => (typeof k === "number" ? `[${k}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? `${i === 0 ? "" : "."}${k}` : `[${JSON.stringify(k)}]`))
    .join("");
}
