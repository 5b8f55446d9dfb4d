package dev.microvm.orchestrator.stream;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.events.TaskEvent;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.Drivers;
import dev.microvm.orchestrator.vm.TestGuest;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.WindowType;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The dashboard watching a real task: a node with real QEMU microVMs and the event stream share one
 * Vert.x; a task submitted over the event bus runs a scripted agent in a VM, and headless Chromium
 * shows it queued, running with its output and progress streaming in, completed, and its diff.
 * A second tab opened midway fetches the earlier output and then follows the live tail: no line may
 * be missing or shown twice where the two meet.
 */
@Tag("vm")
@Tag("browser")
class LiveTaskDashboardTest {

    private static final int LINES = 8;
    private static final String TOOL_USE = "{\"type\":\"assistant\",\"message\":{\"id\":\"m1\",\"model\":\"test\",\"content\":"
            + "[{\"type\":\"tool_use\",\"id\":\"tu1\",\"name\":\"Bash\",\"input\":{\"command\":\"git commit\"}}]}}";
    private static final String AGENT = "for i in $(seq 1 " + LINES + "); do echo \"live-line-$i of " + LINES + "\"; sleep 0.5; done; "
            + "echo '" + TOOL_USE + "'; "
            + "echo 'written in a microVM' > live.txt && git add live.txt && git commit -q -m 'Add live.txt' && echo live-done";

    @TempDir Path tmp;

    @Test
    void aRealTaskIsWatchedFromSubmissionToItsDiff() throws Exception {
        Path repo = GitRepos.create(tmp.resolve("project"));
        Path state = tmp.resolve("state");
        OrchestratorConfig config = NodeFixture.config(state, "qemu", TestGuest.get().dir, 1);
        WebDriver browser = HeadlessChromium.launch(Files.createDirectories(tmp.resolve("profile")));
        try (NodeFixture f = NodeFixture.start(state, config, Drivers.create(config, new StatePaths(state)))) {
            f.node.repos().allow(repo, "project");
            EventStreamVerticle stream = new EventStreamVerticle(EventStreamOptions.loopback(0), new StatePaths(state));
            f.node.vertx().deployVerticle(stream).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
            assertThat(stream.outcome()).isEqualTo(EventStreamVerticle.Outcome.SERVING);
            String link = stream.dashboardLink();

            browser.get(link);
            WebDriverWait wait = waiting(browser, Duration.ofSeconds(20));
            wait.until(ExpectedConditions.attributeToBe(By.id("conn"), "data-state", "live"));
            wait.until(d -> d.findElement(By.id("nodes")).getText().contains("test-node"));

            String id = f.submit("project", "Write live.txt while printing a countdown",
                    new JsonObject().put("agent_command", AGENT)).getString("task_id");
            wait.until(d -> !d.findElements(rowOf(id)).isEmpty());
            assertThat(row(browser, id).getText()).contains("Write live.txt").contains("project");
            row(browser, id).click();
            WebDriverWait vm = waiting(browser, Duration.ofMinutes(4));
            vm.until(d -> "running".equals(row(d, id).getAttribute("data-state")));
            vm.until(d -> d.findElement(By.cssSelector(".slot[data-slot='0']")).getText().contains(id));
            vm.until(d -> log(d).contains("live-line-2 of"));
            HeadlessChromium.screenshot(browser, "dashboard-live-running.png");

            // a second tab joins midway: earlier output from the log file, then the live tail
            String first = browser.getWindowHandle();
            browser.switchTo().newWindow(WindowType.TAB);
            browser.get(link);
            wait.until(ExpectedConditions.attributeToBe(By.id("conn"), "data-state", "live"));
            wait.until(d -> !d.findElements(rowOf(id)).isEmpty());
            row(browser, id).click();
            vm.until(d -> "completed".equals(row(d, id).getAttribute("data-state")));
            vm.until(d -> log(d).contains("live-done"));
            assertEveryAgentLineOnce(log(browser));
            String second = browser.getWindowHandle();

            browser.switchTo().window(first);
            vm.until(d -> "completed".equals(row(d, id).getAttribute("data-state")));
            vm.until(d -> log(d).contains("live-done"));
            assertEveryAgentLineOnce(log(browser));
            vm.until(d -> row(d, id).getText().contains("1 tool "));
            assertThat(row(browser, id).getText()).contains("1 turn ").contains("Bash");
            assertThat(row(browser, id).findElement(By.cssSelector(".badge")).getText()).isEqualToIgnoringCase("completed");
            wait.until(d -> d.findElement(By.cssSelector(".slot[data-slot='0']")).getText().contains("free"));
            assertThat(browser.findElement(By.id("nodes")).getText()).contains("qemu");

            wait.until(ExpectedConditions.elementToBeClickable(By.id("tab-diff"))).click();
            wait.until(d -> !d.findElements(By.cssSelector("#diff .add")).isEmpty());
            assertThat(browser.findElements(By.cssSelector("#diff .file"))).extracting(WebElement::getText)
                    .anySatisfy(t -> assertThat(t).contains("live.txt"));
            assertThat(browser.findElements(By.cssSelector("#diff .add"))).extracting(WebElement::getText)
                    .contains("+written in a microVM");
            HeadlessChromium.screenshot(browser, "dashboard-live-completed.png");

            // the task.log events cover the console without gap or overlap: what the page joins on
            long expected = 0;
            for (TaskEvent e : f.node.events().log().readAfter(0, 10_000)) {
                if (!EventTypes.TASK_LOG.equals(e.type()) || !id.equals(e.taskId())) continue;
                assertThat(e.data().getLong("offset")).as(e.toJson().encode()).isEqualTo(expected);
                expected = e.data().getLong("next_offset");
            }
            assertThat(expected).isEqualTo(Files.size(new StatePaths(state).taskConsoleLog(id)));

            assertRestApiAnswersFromTheNode("http://localhost:" + stream.port(), Files.readString(new StatePaths(state).httpTokenFile()).strip(), id);

            for (String window : new String[] {first, second}) {
                browser.switchTo().window(window);
                assertThat(browser.manage().logs().get(LogType.BROWSER).getAll()).as("browser console")
                        .filteredOn(e -> e.getLevel().intValue() >= Level.SEVERE.intValue()).isEmpty();
            }
        } catch (Throwable t) {
            HeadlessChromium.screenshot(browser, "dashboard-live-failure.png");
            throw t;
        } finally {
            browser.quit();
        }
    }

    /** The REST API with the node's own replies, as a script would use it. */
    private static void assertRestApiAnswersFromTheNode(String base, String token, String id) throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        java.util.function.BiFunction<String, Integer, JsonObject> get = (path, status) -> {
            try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + path))
                        .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).as(path + ": " + r.body()).isEqualTo(status);
                return new JsonObject(r.body());
            } catch (Exception e) {
                throw new AssertionError(path, e);
            }
        };
        JsonObject list = get.apply("/api/tasks?status=completed&repo=project", 200);
        assertThat(list.getJsonArray("tasks")).hasSize(1);
        assertThat(list.getJsonArray("tasks").getJsonObject(0).getString("task_id")).isEqualTo(id);
        JsonObject task = get.apply("/api/tasks/" + id, 200);
        assertThat(task.getString("status")).isEqualTo("completed");
        assertThat(task.getJsonObject("merge_result").getBoolean("merged")).isTrue();
        JsonObject console = get.apply("/api/tasks/" + id + "/log?tail=4096", 200);
        assertThat(console.getString("content")).contains("live-line-" + LINES + " of", "live-done");
        assertThat(console.getLong("next_offset")).isEqualTo(console.getLong("size"));
        JsonObject head = get.apply("/api/tasks/" + id + "/log?offset=0&limit=10", 200);
        assertThat(head.getLong("next_offset")).isEqualTo(10);
        assertThat(get.apply("/api/tasks/" + id + "/log?stream=agent", 200).getString("content")).contains("live-line-1 of");
        JsonObject diff = get.apply("/api/tasks/" + id + "/diff", 200);
        assertThat(diff.getString("patch")).contains("+written in a microVM");
        assertThat(diff.getJsonArray("files").getJsonObject(0).getString("path")).isEqualTo("live.txt");
        assertThat(get.apply("/api/repos", 200).getJsonArray("repos").getJsonObject(0).getString("alias")).isEqualTo("project");
        JsonObject slots = get.apply("/api/slots", 200);
        assertThat(slots.getInteger("max_slots")).isEqualTo(1);
        assertThat(slots.getJsonArray("active")).isEmpty();
        assertThat(get.apply("/api/nodes", 200).getJsonArray("nodes").getJsonObject(0).getString("node_id")).isEqualTo("test-node");
        assertThat(get.apply("/api/tasks/tzzzzzzzzzz", 404).getString("error")).contains("unknown task");
        assertThat(get.apply("/api/tasks?status=sleeping", 400).getString("error")).isNotBlank();
        assertThat(get.apply("/api/tasks/" + id + "/log?stream=kernel", 400).getString("error")).contains("console");
    }

    private static void assertEveryAgentLineOnce(String log) {
        for (int i = 1; i <= LINES; i++) {
            Matcher m = Pattern.compile("live-line-" + i + " of " + LINES).matcher(log);
            int n = 0;
            while (m.find()) n++;
            assertThat(n).as("times 'live-line-%d' is shown in:%n%s", i, log).isEqualTo(1);
        }
        assertThat(log).containsSubsequence("live-line-1 of", "live-line-" + LINES + " of", "live-done");
    }

    private static By rowOf(String id) {
        return By.cssSelector("tr[data-task-id='" + id + "']");
    }

    private static WebElement row(WebDriver d, String id) {
        return d.findElement(rowOf(id));
    }

    private static String log(WebDriver d) {
        return d.findElement(By.id("log")).getText();
    }

    private static WebDriverWait waiting(WebDriver browser, Duration timeout) {
        WebDriverWait w = new WebDriverWait(browser, timeout, Duration.ofMillis(200));
        w.ignoring(StaleElementReferenceException.class);
        return w;
    }
}
