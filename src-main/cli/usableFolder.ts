import fs from "node:fs";
import { fileOnTheWay } from "../shared/fileOnTheWay";

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
    const { code, path: at } = error as NodeJS.ErrnoException;
    if (code === "ENOTDIR") return `${fileOnTheWay(at ?? dir)} is a file, not a folder`;
    if (code === "EEXIST") return "it is a file, not a folder";
    if (code === "EACCES" || code === "EPERM") return "this user may not write there";
    if (code === "EROFS") return "it is on a read-only file system";
    return (error as Error).message;
  }
}
