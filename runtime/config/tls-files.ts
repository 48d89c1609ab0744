/** Certificate and key files named by settings: checked at start, so a wrong path fails there. */
import { readFileSync } from "node:fs";

export type ReadText = (path: string) => string;
const readText: ReadText = (path) => readFileSync(path, "utf8");

/** A problem with the PEM file `setting` names, or undefined when it can be used. */
export function pemFileProblem(setting: string, path: string, read: ReadText = readText): string | undefined {
  let text: string;
  try {
    text = read(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "it is a directory" : (e as Error).message;
    return `${setting}=${path} cannot be read: ${why}`;
  }
  if (!text.includes("-----BEGIN ")) return `${setting}=${path} is not a PEM file (it has no "-----BEGIN" line)`;
  return undefined;
}

/** The problems of every given file, by setting name; absent settings are skipped. */
export function pemFilesProblems(files: Record<string, string | undefined>, read: ReadText = readText): string[] {
  return Object.entries(files).flatMap(([setting, path]) => {
    if (path === undefined) return [];
    const problem = pemFileProblem(setting, path, read);
    return problem ? [problem] : [];
  });
}
