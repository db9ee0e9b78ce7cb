import fs from "node:fs";
import { writePrivateFile } from "../../shared/privateFile";
import path from "node:path";
import type { Logger } from "../../shared/logger";
import { dataFiles } from "../dataDir";

/** Where one secret (the Hugging Face token) is kept between starts. */
export interface SecretStore {
  /** `keychain`: encrypted by the operating system (the desktop app); `file`: a file only this user reads. */
  readonly storage: "keychain" | "file";
  /** Asynchronous: the OS's keychain may take its time (or ask the user) to decrypt. */
  read(): Promise<string | undefined>;
  /** Saves the secret, or forgets it when undefined. */
  write(value: string | undefined): Promise<void>;
}

export interface FileSecretStoreOptions {
  /**
   * The desktop app's OS-encrypted copy (`hf-token.enc`), which this store cannot read: a secret saved
   * or forgotten here replaces it, or the desktop app would go on with the one it keeps (a revoked
   * token back after Forget).
   */
  encryptedFile?: string;
  /** Told once when nothing is kept here but an encrypted copy is: that secret is not used. */
  onEncryptedOnly?: () => void;
}

/** A 0600 file: what headless mode has (no keychain to ask), and the desktop app without a keyring. */
export function createFileSecretStore(file: string, options: FileSecretStoreOptions = {}): SecretStore {
  const { encryptedFile } = options;
  let told = false;
  return {
    storage: "file",
    async read() {
      try {
        return fs.readFileSync(file, "utf8").trim() || undefined;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        if (encryptedFile && !told && fs.existsSync(encryptedFile)) {
          told = true;
          options.onEncryptedOnly?.();
        }
        return undefined;
      }
    },
    async write(value) {
      // The encrypted copy goes once the new value is in place: a failed write leaves the old one.
      if (value === undefined) {
        fs.rmSync(file, { force: true });
      } else {
        writePrivateFile(file, `${value}\n`);
      }
      if (encryptedFile) fs.rmSync(encryptedFile, { force: true });
    },
  };
}

/**
 * A data directory's plain token file (`llmlb serve`, or the desktop app without a keyring): saving or
 * forgetting there replaces the encrypted copy the desktop app keeps where it has a keyring.
 */
export function plainHfTokenStore(dataDir: string, log: Pick<Logger, "warn">): SecretStore {
  return createFileSecretStore(path.join(dataDir, dataFiles.hfToken), {
    encryptedFile: path.join(dataDir, dataFiles.hfTokenEncrypted),
    onEncryptedOnly: () =>
      log.warn(
        "The desktop app keeps a Hugging Face token encrypted by the operating system's keyring, which cannot be read here; it is not used. Set the token again (Settings, `llmlb settings set --hf-token`, or HF_TOKEN); one saved here replaces it.",
      ),
  });
}
