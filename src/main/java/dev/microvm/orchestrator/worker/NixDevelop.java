package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.config.Environment;
import dev.microvm.orchestrator.task.FailureReason;
import dev.microvm.orchestrator.vm.GuestImage;
import io.vertx.core.json.JsonObject;

import java.util.Optional;
import java.util.function.Supplier;

/**
 * Whether a task's setup and agent run inside the repository's {@code nix develop}, as decided on
 * the host before any VM: by default when the repository's {@code flake.nix} (at the commit its
 * environment is read from) declares a devShell ({@code devShells} or the older {@code devShell}
 * output; the host cannot evaluate Nix, so it looks for the output's name), unless the environment
 * says {@code "nix_develop": false}. {@code "nix_develop": true} insists: it needs a
 * {@code flake.nix}. Either way the guest image must offer Nix ({@link GuestImage#FEATURE_NIX}),
 * or the task is refused before a VM starts: a task without its toolchain would only fail later,
 * and less clearly.
 *
 * @param enabled whether the runner wraps setup and the agent in {@code nix develop}
 * @param why     in words, for the task record
 */
record NixDevelop(boolean enabled, String why) {

    /** The flake file at the repository's root. */
    static final String FLAKE = "flake.nix";
    /** Its lock file: with the flake, a setup input whenever nix develop applies. */
    static final String FLAKE_LOCK = "flake.lock";

    static final NixDevelop OFF = new NixDevelop(false, "no flake.nix");

    /**
     * @param flake the text of {@code flake.nix} at the environment's commit, if there is one
     * @param image the guest image the task boots, if the driver boots images; asked only when nix develop applies
     * @param where the commit and repository, for messages
     * @throws WorkerFailure {@code environment_invalid} when nix develop applies but cannot run
     */
    static NixDevelop decide(Environment environment, Optional<String> flake, Supplier<Optional<GuestImage>> images, String where) {
        Boolean wanted = environment.nixDevelop();
        if (Boolean.FALSE.equals(wanted)) return new NixDevelop(false, "the environment sets \"nix_develop\": false");
        if (flake.isEmpty()) {
            if (Boolean.TRUE.equals(wanted)) {
                throw new WorkerFailure(FailureReason.ENVIRONMENT_INVALID, "the environment sets \"nix_develop\": true, but there is no "
                        + FLAKE + " at " + where + "; commit a flake with a devShell, or remove nix_develop");
            }
            return OFF;
        }
        boolean declaresShell = flake.get().contains("devShell");
        if (!declaresShell && !Boolean.TRUE.equals(wanted)) return new NixDevelop(false, FLAKE + " declares no devShell");
        String why = declaresShell ? FLAKE + " declares a devShell" : "the environment sets \"nix_develop\": true";
        Optional<GuestImage> image = images.get();
        if (image.isEmpty() || !image.get().has(GuestImage.FEATURE_NIX)) {
            String guest = image.map(i -> "the guest image " + i.dir() + " (" + i.imageVersion() + ", features " + i.features() + ")")
                    .orElse("this driver's guest (it boots no image)");
            throw new WorkerFailure(FailureReason.ENVIRONMENT_INVALID, "the task would run inside nix develop (" + why + " at " + where
                    + "), but " + guest + " has no Nix; use an image with the \"" + GuestImage.FEATURE_NIX
                    + "\" feature (scripts/build-guest.sh agent, or the NixOS image), or set \"nix_develop\": false in " + Environment.FILE);
        }
        return new NixDevelop(true, why);
    }

    JsonObject toJson() {
        return new JsonObject().put("enabled", enabled).put("why", why);
    }
}
