/**
 * ferry/testing as one JavaScript file, built by scripts/build.ts before the binary is compiled
 * and carried inside it. Imported only by a compiled `ferry test`: from source the bundle may not exist.
 */
import bundle from "../../dist/testing/preload.bundle" with { type: "file" };

export const testingBundle: string = bundle;
