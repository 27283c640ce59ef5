/** A failure to build, with a message meant for the terminal. */
export class BuildError extends Error {
  override name = "BuildError";
}
