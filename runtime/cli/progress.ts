/**
 * A progress counter for long operations on standard error, so standard output stays clean for
 * results. On a terminal it rewrites one line ("produced 3000/10000 (30%)"); elsewhere (CI logs,
 * pipes) it prints a line at most every 10% so a log is not flooded.
 */
export interface Progress {
  update(done: number): void;
  done(): void;
}

export function createProgress(
  verb: string,
  total: number,
  { write = (text: string) => void process.stderr.write(text), tty = Boolean(process.stderr.isTTY) }: { write?: (text: string) => void; tty?: boolean } = {},
): Progress {
  let lastTenth = -1;
  let current = 0;
  const text = (done: number) => `${verb} ${done}/${total} (${total === 0 ? 100 : Math.floor((done * 100) / total)}%)`;
  return {
    update(done) {
      current = done;
      if (tty) return write(`\r${text(done)}`);
      const tenth = total === 0 ? 10 : Math.floor((done * 10) / total);
      if (tenth > lastTenth) {
        lastTenth = tenth;
        write(`${text(done)}\n`);
      }
    },
    done() {
      if (tty) write(`\r${text(current)}\n`);
    },
  };
}
