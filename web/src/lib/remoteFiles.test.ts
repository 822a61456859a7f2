import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import { breadcrumbs, fileErrorText, chunkPlan, CHUNK_SIZE, filesUrl, formatSize, joinPath, modeString, nameProblem, parentPath, pathStyle, percent, resumeFrom, sortEntries } from "./remoteFiles";
import type { FileEntry } from "../api/types";

describe("paths", () => {
  it("tells POSIX from Windows paths", () => {
    expect(pathStyle("/home/ada")).toBe("posix");
    expect(pathStyle("C:\\Users")).toBe("windows");
    expect(pathStyle("c:")).toBe("windows");
    expect(pathStyle("\\\\srv\\share\\x")).toBe("windows");
    expect(pathStyle("docs\\a")).toBe("windows");
    expect(pathStyle("docs/a")).toBe("posix");
    expect(pathStyle("")).toBe("posix");
  });

  it("joins a name to a directory with its separator, once", () => {
    expect(joinPath("/", "etc")).toBe("/etc");
    expect(joinPath("/home/ada", "notes.txt")).toBe("/home/ada/notes.txt");
    expect(joinPath("/home/ada/", "notes.txt")).toBe("/home/ada/notes.txt");
    expect(joinPath("C:\\", "Users")).toBe("C:\\Users");
    expect(joinPath("C:\\Users", "ada")).toBe("C:\\Users\\ada");
    expect(joinPath("", "x")).toBe("x");
  });

  it("breaks a path into breadcrumbs from its root", () => {
    expect(breadcrumbs("/")).toEqual([{ label: "/", path: "/" }]);
    expect(breadcrumbs("/home/ada/src")).toEqual([
      { label: "/", path: "/" },
      { label: "home", path: "/home" },
      { label: "ada", path: "/home/ada" },
      { label: "src", path: "/home/ada/src" },
    ]);
    expect(breadcrumbs("/var//log/")).toEqual([
      { label: "/", path: "/" },
      { label: "var", path: "/var" },
      { label: "log", path: "/var/log" },
    ]);
    expect(breadcrumbs("C:\\Users\\ada")).toEqual([
      { label: "C:\\", path: "C:\\" },
      { label: "Users", path: "C:\\Users" },
      { label: "ada", path: "C:\\Users\\ada" },
    ]);
    expect(breadcrumbs("\\\\srv\\share\\docs")).toEqual([
      { label: "\\\\srv\\share", path: "\\\\srv\\share" },
      { label: "docs", path: "\\\\srv\\share\\docs" },
    ]);
    expect(breadcrumbs("a/b")).toEqual([
      { label: "a", path: "a" },
      { label: "b", path: "a/b" },
    ]);
    expect(breadcrumbs("")).toEqual([]);
  });

  it("finds the parent directory; the root is its own parent", () => {
    expect(parentPath("/home/ada")).toBe("/home");
    expect(parentPath("/home")).toBe("/");
    expect(parentPath("/")).toBe("/");
    expect(parentPath("C:\\Users")).toBe("C:\\");
    expect(parentPath("C:\\")).toBe("C:\\");
  });

  it("refuses names that are not one path component", () => {
    expect(nameProblem("report.pdf")).toBeNull();
    expect(nameProblem("  ")).toMatch(/Enter a name/);
    expect(nameProblem("..")).toMatch(/not names/);
    expect(nameProblem("a/b")).toMatch(/cannot contain/);
    expect(nameProblem("..\\x")).toMatch(/cannot contain/);
  });
});

describe("uploads", () => {
  it("plans 4 MiB chunks, the last one shorter", () => {
    const size = 2 * CHUNK_SIZE + 10;
    expect(chunkPlan(size)).toEqual([
      { offset: 0, length: CHUNK_SIZE },
      { offset: CHUNK_SIZE, length: CHUNK_SIZE },
      { offset: 2 * CHUNK_SIZE, length: 10 },
    ]);
    expect(chunkPlan(10, 0, 4)).toEqual([
      { offset: 0, length: 4 },
      { offset: 4, length: 4 },
      { offset: 8, length: 2 },
    ]);
  });

  it("plans from the resume offset, one empty chunk for an empty file, nothing when all is sent", () => {
    expect(chunkPlan(10, 6, 4)).toEqual([
      { offset: 6, length: 4 },
    ]);
    expect(chunkPlan(0)).toEqual([{ offset: 0, length: 0 }]);
    expect(chunkPlan(10, 10, 4)).toEqual([]);
    expect(() => chunkPlan(-1)).toThrow(RangeError);
    expect(() => chunkPlan(10, 0, 0)).toThrow(RangeError);
  });

  it("resumes from the size the device has, when it can be a prefix of the file", () => {
    expect(resumeFrom(null, 100)).toEqual({ kind: "fresh" });
    expect(resumeFrom(0, 100)).toEqual({ kind: "fresh" });
    expect(resumeFrom(40, 100)).toEqual({ kind: "resume", offset: 40 });
    expect(resumeFrom(100, 100)).toEqual({ kind: "verify" });
    expect(resumeFrom(150, 100)).toEqual({ kind: "fresh" });
    expect(resumeFrom(0, 0)).toEqual({ kind: "verify" });
    expect(resumeFrom(null, 0)).toEqual({ kind: "fresh" });
  });

  it("computes progress", () => {
    expect(percent(0, 100)).toBe(0);
    expect(percent(50, 100)).toBe(50);
    expect(percent(99.9, 100)).toBe(99);
    expect(percent(100, 100)).toBe(100);
    expect(percent(0, 0)).toBe(100);
  });
});

describe("listing", () => {
  it("formats sizes", () => {
    expect(formatSize(0)).toBe("0 B");
    expect(formatSize(1023)).toBe("1023 B");
    expect(formatSize(1536)).toBe("1.5 KiB");
    expect(formatSize(50 * 1024 * 1024)).toBe("50 MiB");
    expect(formatSize(3 * 1024 ** 3)).toBe("3.0 GiB");
    expect(formatSize(null)).toBe("—");
    expect(formatSize(-1)).toBe("—");
  });

  it("shows modes as ls does", () => {
    expect(modeString("0644", "file")).toBe("-rw-r--r--");
    expect(modeString("0755", "directory")).toBe("drwxr-xr-x");
    expect(modeString("100600", "file")).toBe("-rw-------");
    expect(modeString("4755", "file")).toBe("-rwsr-xr-x");
    expect(modeString("1777", "directory")).toBe("drwxrwxrwt");
    expect(modeString("0777", "symlink")).toBe("lrwxrwxrwx");
    expect(modeString(null, "file")).toBe("—");
    expect(modeString("rw", "file")).toBe("—");
  });

  it("lists directories first, then names in natural order", () => {
    const e = (name: string, type: FileEntry["type"] = "file"): FileEntry => ({ name, type, size: 0 });
    expect(sortEntries([e("file10"), e("b", "directory"), e("file2"), e("A", "directory"), e("link", "symlink")]).map((x) => x.name)).toEqual(["A", "b", "file2", "file10", "link"]);
  });

  it("builds the file routes with the query encoded", () => {
    expect(filesUrl("d1", "", { path: "/a b&c" })).toBe("/api/v1/devices/d1/files?path=%2Fa+b%26c");
    expect(filesUrl("d1", "/content", { path: "/x", offset: 0, total: 5, session_id: undefined })).toBe("/api/v1/devices/d1/files/content?path=%2Fx&offset=0&total=5");
    expect(filesUrl("d1", "/mkdir")).toBe("/api/v1/devices/d1/files/mkdir");
  });
});

describe("fileErrorText", () => {
  it("says what the API's refusal means", () => {
    expect(fileErrorText(new ApiError(403, "outside_root", "the path leaves the allowed root of this device"))).toBe("Outside the folder this device allows: the path leaves the allowed root of this device");
    expect(fileErrorText(new ApiError(403, "permission_denied", "EACCES"))).toBe("The device refused access: EACCES");
    expect(fileErrorText(new ApiError(403, "forbidden", "needs remote:execute"))).toBe("Not permitted: needs remote:execute");
    expect(fileErrorText(new ApiError(404, "file_not_found", "no such file"))).toBe("Not found: no such file");
    expect(fileErrorText(new ApiError(409, "device_offline", "the agent is not connected"))).toBe("The device is offline: the agent is not connected");
    expect(fileErrorText(new ApiError(409, "offset_mismatch", "size is 4"))).toBe("Conflict: size is 4");
    expect(fileErrorText(new ApiError(422, "validation", "path is required", "path"))).toBe("path is required");
    expect(fileErrorText(new Error("network down"))).toBe("network down");
  });
});
