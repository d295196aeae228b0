/** Raised when a model directory cannot be used; the message names the file and the problem. */
export class ModelLoadError extends Error {
  /** The file at fault (absolute or as given). */
  readonly file: string;

  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'ModelLoadError';
    this.file = file;
  }
}
