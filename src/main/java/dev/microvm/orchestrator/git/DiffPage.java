package dev.microvm.orchestrator.git;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;

/**
 * One page of a task's diff against its base.
 *
 * @param files      every changed file of the whole diff (status and path), so a client sees the full list at once
 * @param offset     index of the first file whose patch is in {@code patch}
 * @param patch      unified diff of the files in this page
 * @param nextOffset index of the next page's first file, or -1 when this is the last page
 */
public record DiffPage(List<FileChange> files, long offset, String patch, long nextOffset) {
    public record FileChange(String status, String path, String oldPath) {
        JsonObject toJson() {
            return new JsonObject().put("status", status).put("path", path).put("old_path", oldPath);
        }
    }

    public DiffPage {
        files = List.copyOf(files);
    }

    public JsonObject toJson() {
        JsonArray list = new JsonArray();
        files.forEach(f -> list.add(f.toJson()));
        return new JsonObject().put("files", list).put("offset", offset).put("patch", patch).put("next_offset", nextOffset);
    }
}
