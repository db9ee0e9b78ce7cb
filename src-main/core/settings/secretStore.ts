import fs from "node:fs";

/** Where one secret (the Hugging Face token) is kept between starts. */
export interface SecretStore {
  /** `keychain`: encrypted by the operating system (the desktop app); `file`: a file only this user reads. */
  readonly storage: "keychain" | "file";
  /** Asynchronous: the OS's keychain may take its time (or ask the user) to decrypt. */
  read(): Promise<string | undefined>;
  /** Saves the secret, or forgets it when undefined. */
  write(value: string | undefined): Promise<void>;
}

/** A 0600 file: what headless mode has (no keychain to ask). */
export function createFileSecretStore(file: string): SecretStore {
  return {
    storage: "file",
    async read() {
      try {
        return fs.readFileSync(file, "utf8").trim() || undefined;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
    },
    async write(value) {
      if (value === undefined) {
        fs.rmSync(file, { force: true });
        return;
      }
      const temp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(temp, `${value}\n`, { mode: 0o600 });
      fs.chmodSync(temp, 0o600);
      fs.renameSync(temp, file);
    },
  };
}
