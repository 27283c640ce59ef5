/**
 * The services-ts authoring language. Modules import everything from here:
 *
 * ```ts
 * import { defineService, t, s, sh, script, process } from "../dsl";
 * ```
 */
export * from "./expr";
export * from "./types";
export * from "./process";
export * from "./service";
export * from "./test";
export { DefinitionError, formatLocation, type SourceLocation } from "./location";
