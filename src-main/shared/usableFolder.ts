import fs from "node:fs";
import path from "node:path";
import { fileOnTheWay } from "./fileOnTheWay";

/** An error making or writing a folder, in words a user acts on. */
function whyNot(error: unknown, dir: string): string {
  const { code, path: at } = error as NodeJS.ErrnoException;
  if (code === "ENOTDIR") return `${fileOnTheWay(at ?? dir)} is a file, not a folder`;
  if (code === "EEXIST") return "it is a file, not a folder";
  if (code === "EACCES" || code === "EPERM") return "this user may not write there";
  if (code === "EROFS") return "it is on a read-only file system";
  return (error as Error).message;
}

/**
 * Why a folder cannot hold what llmlb writes there (it is a file, or under one; it cannot be created or
 * written), or undefined when it can. Creates it when missing, as the first download would.
 */
export function whyFolderUnusable(dir: string): string | undefined {
  try {
    fs.mkdirSync(dir, { recursive: true });
    if (!fs.statSync(dir).isDirectory()) return "it is a file, not a folder";
    fs.accessSync(dir, fs.constants.W_OK);
    return undefined;
  } catch (error) {
    return whyNot(error, dir);
  }
}

/**
 * As `whyFolderUnusable`, for a folder chosen now and used at a later start: nothing is created; a
 * missing one must be one this user could create (the nearest folder above it that exists is a
 * folder, and writable).
 */
export function whyFolderCannotBeUsed(dir: string): string | undefined {
  const existing = fileOnTheWay(dir);
  try {
    if (!fs.statSync(existing).isDirectory())
      return existing === dir ? "it is a file, not a folder" : `${existing} is a file, not a folder`;
    fs.accessSync(existing, fs.constants.W_OK);
    return undefined;
  } catch (error) {
    return whyNot(error, path.resolve(dir));
  }
}
