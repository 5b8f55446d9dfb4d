package dev.microvm.orchestrator.stream;

import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The dashboard in a real headless Chromium: a task is started, appears, streams log lines and
 * turns completed, all checked in the page's DOM; screenshots are kept under target/.
 * Needs Debian's {@code chromium} and {@code chromium-driver}; in CI their absence is a failure.
 */
@Tag("browser")
class DashboardBrowserTest {

    @TempDir
    Path stateDir;
    @TempDir
    Path profileDir;

    private StreamServer server;
    private WebDriver browser;
    private final Map<String, JsonObject> tasks = new ConcurrentHashMap<>();
    private final Map<String, String> logs = new ConcurrentHashMap<>();

    @BeforeEach
    void start() {
        browser = HeadlessChromium.launch(profileDir);
        server = StreamServer.start(stateDir);
        answerLikeTheTaskManager(server.vertx.eventBus());
    }

    @AfterEach
    void stop() {
        if (browser != null) browser.quit();
        if (server != null) server.close();
    }

    /** Test replies in the shapes documented in Addresses, backed by the maps above. */
    private void answerLikeTheTaskManager(EventBus bus) {
        bus.<JsonObject>consumer(Addresses.TASK_LIST, m -> m.reply(new JsonObject().put("tasks", new JsonArray(List.copyOf(tasks.values())))));
        bus.<JsonObject>consumer(Addresses.TASK_GET, m -> {
            JsonObject t = tasks.get(m.body().getString("task_id"));
            if (t == null) m.fail(404, "no such task");
            else m.reply(t);
        });
        bus.<JsonObject>consumer(Addresses.TASK_LOGS, m -> {
            // byte ranges as TaskLogs reads them (the test logs are ASCII)
            String all = logs.getOrDefault(m.body().getString("task_id"), "");
            Long tail = m.body().getLong("tail");
            long from = tail != null ? Math.max(0, all.length() - tail) : Math.min(all.length(), m.body().getLong("offset", 0L));
            long to = Math.min(all.length(), from + m.body().getLong("limit", 65536L));
            m.reply(new JsonObject().put("content", all.substring((int) from, (int) to)).put("offset", from)
                    .put("next_offset", to).put("size", all.length()));
        });
        bus.<JsonObject>consumer(Addresses.TASK_DIFF, m -> m.reply(new JsonObject().put("files", new JsonArray().add("src/greeting.py"))
                .put("diff", """
                        diff --git a/src/greeting.py b/src/greeting.py
                        index 3b18e51..a2c4f10 100644
                        --- a/src/greeting.py
                        +++ b/src/greeting.py
                        @@ -1,2 +1,3 @@
                        -def greet(name):
                        -    return "hello " + name
                        +def greet(name: str) -> str:
                        +    \"\"\"Greets politely.\"\"\"
                        +    return f"Hello, {name}!"
                        """).put("next_offset", null)));
        bus.<JsonObject>consumer(Addresses.SLOT_LIST, m -> {
            boolean busy = tasks.containsKey("fix-greeting-7f3a") && "running".equals(tasks.get("fix-greeting-7f3a").getString("state"));
            JsonArray active = new JsonArray().add(new JsonObject().put("slot", 2).put("task_id", "add-ci-cache-11b0"));
            JsonArray available = new JsonArray().add(3).add(4);
            if (busy) active.add(new JsonObject().put("slot", 1).put("task_id", "fix-greeting-7f3a"));
            else available.add(1);
            m.reply(new JsonObject().put("max_slots", 4).put("active", active).put("available", available).put("queued", new JsonArray()));
        });
        bus.<JsonObject>consumer(Addresses.NODE_LIST, m -> m.reply(new JsonObject().put("nodes", new JsonArray()
                .add(new JsonObject().put("node_id", "node-a").put("host", "build-1").put("slots", 4).put("running", 2)
                        .put("healthy", false).put("fingerprint", new JsonObject().put("driver", "qemu").put("version", "7.2.22")
                                .put("accelerator", "tcg").put("healthy", false).put("detail", "guest image: no mvo-image.json"))))));
        bus.<JsonObject>consumer(Addresses.REPO_LIST, m -> m.reply(new JsonObject().put("repos", new JsonArray())));
    }

    private JsonObject record(String id, String state, String repo, String description) {
        JsonObject t = new JsonObject().put("task_id", id).put("state", state).put("repo", repo).put("description", description)
                .put("created_at", Instant.now().minusSeconds(600).toString());
        tasks.put(id, t);
        return t;
    }

    private void state(String id, String state, String previous) {
        tasks.get(id).put("state", state);
        server.emit(EventTypes.TASK_STATE, id, new JsonObject().put("state", state).put("previous", previous));
    }

    private void logLines(String id, String... lines) {
        logs.merge(id, String.join("\n", lines) + "\n", String::concat);
        server.emit(EventTypes.TASK_LOG, id, new JsonObject().put("stream", "console").put("lines", new JsonArray(List.of(lines))));
    }

    private WebElement row(String id) {
        return browser.findElement(By.cssSelector("tr[data-task-id='" + id + "']"));
    }

    private WebDriverWait waiting() {
        return (WebDriverWait) new WebDriverWait(browser, Duration.ofSeconds(15)).ignoring(StaleElementReferenceException.class);
    }

    private void screenshot(String name) throws Exception {
        HeadlessChromium.screenshot(browser, name);
    }

    @Test
    void aTaskAppearsStreamsItsLogAndTurnsCompletedWithoutARefresh() throws Exception {
        record("add-ci-cache-11b0", "running", "infra", "Cache the Maven repository between CI runs");
        record("bump-deps-90c2", "completed", "web", "Bump the minor versions of all npm dependencies");
        record("flaky-test-5d21", "failed", "api", "Find out why OrderServiceTest fails one run in twenty");

        browser.get("http://localhost:" + server.port() + "/?token=" + server.token());
        assertThat(browser.getCurrentUrl()).doesNotContain("token"); // moved into a cookie
        waiting().until(ExpectedConditions.attributeToBe(By.id("conn"), "data-state", "live"));
        waiting().until(d -> d.findElements(By.cssSelector("#task-rows tr")).size() == 3);
        waiting().until(d -> d.findElements(By.cssSelector("#nodes li")).size() == 1
                && d.findElement(By.id("nodes")).getText().contains("node-a"));
        // one line per node: driver, version, accelerator and whether it can boot a guest (the reason on hover)
        assertThat(browser.findElement(By.id("nodes")).getText()).contains("qemu 7.2.22 tcg").contains("unhealthy");
        assertThat(browser.findElement(By.cssSelector("#nodes li > .muted")).getAttribute("title")).contains("no mvo-image.json");

        // the task is submitted and starts
        record("fix-greeting-7f3a", "queued", "web", "Add type hints to greet() and make the greeting polite");
        state("fix-greeting-7f3a", "queued", null);
        waiting().until(d -> row("fix-greeting-7f3a").getAttribute("data-state").equals("queued"));
        // the row's description arrives with the task record, which may follow the state event on a loaded machine
        waiting().until(d -> row("fix-greeting-7f3a").getText().contains("Add type hints to greet()"));
        state("fix-greeting-7f3a", "starting", "queued");
        state("fix-greeting-7f3a", "running", "starting");
        server.emit(EventTypes.SLOT, null, new JsonObject().put("slot", 1).put("task_id", "fix-greeting-7f3a").put("state", "busy"));
        waiting().until(d -> row("fix-greeting-7f3a").getAttribute("data-state").equals("running"));
        waiting().until(d -> d.findElement(By.cssSelector(".slot[data-slot='1']")).getText().contains("fix-greeting-7f3a"));

        row("fix-greeting-7f3a").click();
        logLines("fix-greeting-7f3a", "[    0.812] microvm: guest kernel up", "[    2.140] runner: workspace mounted at /workspace");
        logLines("fix-greeting-7f3a", "runner: starting agent", "agent: reading src/greeting.py");
        server.emit(EventTypes.TASK_PROGRESS, "fix-greeting-7f3a",
                new JsonObject().put("turns", 3).put("tool_uses", 4).put("last_tool", "Edit").put("done", false));
        // a line longer than an entry arrives in pieces, the last piece in the next event: shown as one line
        server.emit(EventTypes.TASK_LOG, "fix-greeting-7f3a", new JsonObject().put("stream", "console")
                .put("lines", new JsonArray().add("agent: a long line, ").add("its middle, ")).put("continues", new JsonArray().add(0).add(1)));
        server.emit(EventTypes.TASK_LOG, "fix-greeting-7f3a", new JsonObject().put("stream", "console")
                .put("lines", new JsonArray().add("and its end")));
        logs.merge("fix-greeting-7f3a", "agent: a long line, its middle, and its end\n", String::concat);
        logLines("fix-greeting-7f3a", "agent: editing src/greeting.py", "agent: running pytest -q", "4 passed in 0.31s");
        waiting().until(d -> d.findElement(By.id("log")).getText().contains("4 passed in 0.31s"));
        assertThat(browser.findElement(By.id("log")).getText().lines()).contains("agent: a long line, its middle, and its end");
        String log = browser.findElement(By.id("log")).getText();
        assertThat(log).containsSubsequence("guest kernel up", "workspace mounted", "starting agent", "reading src/greeting.py",
                "editing src/greeting.py", "running pytest -q", "4 passed");
        waiting().until(d -> row("fix-greeting-7f3a").getText().contains("3 turns"));
        assertThat(row("fix-greeting-7f3a").getText()).contains("4 tools").contains("Edit");
        assertThat(browser.findElement(By.id("tab-diff")).isEnabled()).isFalse();
        screenshot("dashboard-running.png");

        // the agent finishes and the work is merged
        server.emit(EventTypes.TASK_PROGRESS, "fix-greeting-7f3a",
                new JsonObject().put("turns", 5).put("tool_uses", 6).put("last_tool", "Bash").put("cost_usd", 0.0423).put("done", true));
        state("fix-greeting-7f3a", "merging", "running");
        state("fix-greeting-7f3a", "completed", "merging");
        server.emit(EventTypes.SLOT, null, new JsonObject().put("slot", 1).put("state", "free"));
        waiting().until(d -> row("fix-greeting-7f3a").getAttribute("data-state").equals("completed"));
        assertThat(row("fix-greeting-7f3a").findElement(By.cssSelector(".badge")).getText()).isEqualToIgnoringCase("completed");
        assertThat(row("fix-greeting-7f3a").getText()).contains("$0.042");
        waiting().until(d -> d.findElement(By.cssSelector(".slot[data-slot='1']")).getText().contains("free"));

        waiting().until(ExpectedConditions.elementToBeClickable(By.id("tab-diff"))).click();
        waiting().until(d -> !d.findElements(By.cssSelector("#diff .add")).isEmpty());
        assertThat(browser.findElements(By.cssSelector("#diff .add"))).extracting(WebElement::getText)
                .contains("+def greet(name: str) -> str:");
        assertThat(browser.findElements(By.cssSelector("#diff .del"))).extracting(WebElement::getText)
                .contains("-def greet(name):");
        screenshot("dashboard-e2e.png");
        // no script error, no blocked resource (the page loads nothing from elsewhere; CSP would say so)
        assertThat(browser.manage().logs().get(LogType.BROWSER).getAll())
                .filteredOn(entry -> entry.getLevel().intValue() >= Level.SEVERE.intValue()).isEmpty();
    }

    @Test
    void aTaskSelectedMidwayShowsItsEarlierOutputThenTheLiveTail() throws Exception {
        record("add-ci-cache-11b0", "running", "infra", "Cache the Maven repository between CI runs");
        logs.put("add-ci-cache-11b0", "earlier line one\nearlier line two\n");
        browser.get("http://localhost:" + server.port() + "/?token=" + server.token());
        waiting().until(ExpectedConditions.attributeToBe(By.id("conn"), "data-state", "live"));
        waiting().until(d -> !d.findElements(By.cssSelector("tr[data-task-id='add-ci-cache-11b0']")).isEmpty());
        row("add-ci-cache-11b0").click();
        waiting().until(d -> d.findElement(By.id("log")).getText().contains("earlier line two"));
        logLines("add-ci-cache-11b0", "live line three");
        waiting().until(d -> d.findElement(By.id("log")).getText().contains("live line three"));
        assertThat(browser.findElement(By.id("log")).getText()).containsSubsequence("earlier line one", "earlier line two", "live line three");
    }

    @Test
    void refusedConnectionsOfAGuestAppearLiveAndHostileNamesStayText() {
        record("fetch-deps-31aa", "running", "web", "Install the dependencies");
        browser.get("http://localhost:" + server.port() + "/?token=" + server.token());
        waiting().until(ExpectedConditions.attributeToBe(By.id("conn"), "data-state", "live"));
        assertThat(browser.findElement(By.id("denied")).getText()).contains("None.");
        server.emit(EventTypes.NETWORK_DENIED, "fetch-deps-31aa", new JsonObject().put("host", "evil.example").put("port", 443)
                .put("method", "CONNECT").put("reason", "not on this task's allowlist"));
        server.emit(EventTypes.NETWORK_DENIED, "fetch-deps-31aa", new JsonObject().put("host", "<img src=x onerror=alert(1)>.example")
                .put("port", 80).put("method", "GET").put("reason", "not on this task's allowlist"));
        waiting().until(d -> d.findElements(By.cssSelector("#denied li.denied-item")).size() == 2);
        String text = browser.findElement(By.id("denied")).getText();
        assertThat(text).contains("CONNECT evil.example:443", "fetch-deps-31aa", "GET <img src=x onerror=alert(1)>.example:80");
        assertThat(browser.findElement(By.id("denied-count")).getText()).isEqualTo("2");
        assertThat(browser.findElements(By.cssSelector("#denied img"))).isEmpty();
    }

    @Test
    void afterAnOutageThePageReconnectsAndCatchesUpOnWhatItMissed() {
        record("add-ci-cache-11b0", "running", "infra", "Cache the Maven repository between CI runs");
        browser.get("http://localhost:" + server.port() + "/?token=" + server.token());
        waiting().until(ExpectedConditions.attributeToBe(By.id("conn"), "data-state", "live"));
        waiting().until(d -> !d.findElements(By.cssSelector("tr[data-task-id='add-ci-cache-11b0']")).isEmpty());
        row("add-ci-cache-11b0").click();
        logLines("add-ci-cache-11b0", "before the outage");
        waiting().until(d -> d.findElement(By.id("log")).getText().contains("before the outage"));

        int port = server.port();
        server.stopServing();
        waiting().until(ExpectedConditions.attributeToBe(By.id("conn"), "data-state", "down"));
        // events written while nobody serves the page: only the durable log has them
        logLines("add-ci-cache-11b0", "during the outage");
        tasks.get("add-ci-cache-11b0").put("state", "completed");
        server.log.append(EventTypes.TASK_STATE, "add-ci-cache-11b0", new JsonObject().put("state", "completed").put("previous", "running"));
        server.serveAgain(port);

        waiting().until(ExpectedConditions.attributeToBe(By.id("conn"), "data-state", "live"));
        waiting().until(d -> d.findElement(By.id("log")).getText().contains("during the outage"));
        waiting().until(d -> "completed".equals(row("add-ci-cache-11b0").getAttribute("data-state")));
        logLines("add-ci-cache-11b0", "after the outage");
        waiting().until(d -> d.findElement(By.id("log")).getText().contains("after the outage"));
        assertThat(browser.findElement(By.id("log")).getText())
                .containsSubsequence("before the outage", "during the outage", "after the outage");
    }

    @Test
    void whereTheFetchedBacklogMeetsTheLiveTailNoLineIsMissingOrShownTwice() {
        record("add-ci-cache-11b0", "running", "infra", "Cache the Maven repository between CI runs");
        // output so far: two lines announced before the page opened, a third still being written
        logs.put("add-ci-cache-11b0", "line one\nline two\nline th");
        server.emit(EventTypes.TASK_LOG, "add-ci-cache-11b0", new JsonObject().put("stream", "console")
                .put("lines", new JsonArray().add("line one").add("line two")).put("offset", 0).put("next_offset", 18));
        browser.get("http://localhost:" + server.port() + "/?token=" + server.token());
        waiting().until(ExpectedConditions.attributeToBe(By.id("conn"), "data-state", "live"));
        waiting().until(d -> !d.findElements(By.cssSelector("tr[data-task-id='add-ci-cache-11b0']")).isEmpty());
        row("add-ci-cache-11b0").click();
        waiting().until(d -> d.findElement(By.id("log")).getText().contains("line two"));

        // the live event carrying the line the backlog read half of
        logs.put("add-ci-cache-11b0", "line one\nline two\nline three\nline four\n");
        server.emit(EventTypes.TASK_LOG, "add-ci-cache-11b0", new JsonObject().put("stream", "console")
                .put("lines", new JsonArray().add("line three").add("line four")).put("offset", 18).put("next_offset", 39));
        waiting().until(d -> d.findElement(By.id("log")).getText().contains("line four"));
        // the same bytes again (the node repeats output after a restart), then new ones
        server.emit(EventTypes.TASK_LOG, "add-ci-cache-11b0", new JsonObject().put("stream", "console")
                .put("lines", new JsonArray().add("line three").add("line four")).put("offset", 18).put("next_offset", 39));
        logs.merge("add-ci-cache-11b0", "line five\n", String::concat);
        server.emit(EventTypes.TASK_LOG, "add-ci-cache-11b0", new JsonObject().put("stream", "console")
                .put("lines", new JsonArray().add("line five")).put("offset", 39).put("next_offset", 49));
        waiting().until(d -> d.findElement(By.id("log")).getText().contains("line five"));
        assertThat(browser.findElement(By.id("log")).getText().lines().toList())
                .containsExactly("line one", "line two", "line three", "line four", "line five");
    }
}
