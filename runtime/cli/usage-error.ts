import { FerryError } from "../errors.ts";

/** A bad command line: the message says what was wrong; the CLI prints it with a pointer to --help and exits 2. */
export class UsageError extends FerryError {
  override name = "UsageError";
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}
