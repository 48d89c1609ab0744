/**
 * The virtual module `ferry` that handler files import. The compiled binary serves it
 * (see virtual-module.ts), so handler directories need no node_modules.
 */
export { defineHandler } from "./contract.ts";
export type {
  BatchContext,
  BatchItem,
  EventMeta,
  HandlerContext,
  HandlerDefinition,
  PublishDeclaration,
  PublishOptions,
  RetryPolicy,
  ValueFormat,
} from "./contract.ts";
export { PermanentError, PublishError } from "../errors.ts";
