package dev.microvm.orchestrator.node;

import dev.microvm.orchestrator.vm.DriverFingerprint;
import dev.microvm.orchestrator.vm.fake.ProcessDriver;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/** The driver check's bookkeeping, whatever the order in which a worker and the event loop run. */
class DriverHealthVerticleTest {
    private final Vertx vertx = Vertx.vertx();
    /** The driver's problem as a check would see it now (null: healthy). */
    private final AtomicReference<String> problem = new AtomicReference<>("the hypervisor binary is missing");

    @AfterEach
    void close() {
        vertx.close().await();
    }

    /**
     * A check so fast that its worker is done before the event loop, which handed it over, goes on
     * (a busy host, a warm JVM: a full test run) is no different from a slow one: the next check runs
     * and is seen.
     */
    @Test
    void aCheckThatFinishesBeforeTheEventLoopGoesOnDoesNotStopLaterChecks() {
        DriverHealthVerticle health = new DriverHealthVerticle(this::fingerprint);
        deploy(health, workerFinishesFirst(vertx));
        assertThat(health.current().healthy()).isFalse();

        problem.set(null);
        JsonObject rechecked = recheck().await();
        assertThat(rechecked.getBoolean("healthy")).as(rechecked.encode()).isTrue();
        assertThat(health.current().healthy()).isTrue();

        problem.set("the accelerator does not open");
        assertThat(recheck().await().getString("detail")).isEqualTo("the accelerator does not open");
        assertThat(health.current().detail()).isEqualTo("the accelerator does not open");
    }

    /** A recheck asked for while a check is running is answered by one that looks after the request. */
    @Test
    void aRecheckAskedForDuringACheckIsAnsweredByALaterOne() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        CountDownLatch looked = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        DriverHealthVerticle health = new DriverHealthVerticle(() -> {
            DriverFingerprint f = fingerprint();
            if (calls.incrementAndGet() == 2) { // the first recheck: it has looked, then takes its time
                looked.countDown();
                assertThat(release.await(30, TimeUnit.SECONDS)).isTrue();
            }
            return f;
        });
        deploy(health, vertx);

        Future<JsonObject> first = recheck();
        assertThat(looked.await(30, TimeUnit.SECONDS)).isTrue();
        problem.set(null);
        Future<JsonObject> second = recheck();
        release.countDown();

        assertThat(first.await().getBoolean("healthy")).as("the first looked before the driver was repaired").isFalse();
        JsonObject answer = second.await();
        assertThat(answer.getBoolean("healthy")).as(answer.encode()).isTrue();
        assertThat(calls.get()).isEqualTo(3);
        assertThat(health.current().healthy()).isTrue();
    }

    private DriverFingerprint fingerprint() {
        String p = problem.get();
        return new DriverFingerprint("process", "sh", null, "none", new ProcessDriver().capabilities(), p == null,
                p == null ? "sh runs guests with none" : p, Instant.now(), Map.of());
    }

    private Future<JsonObject> recheck() {
        return vertx.eventBus().<JsonObject>request(Addresses.NODE_DRIVER, new JsonObject().put("recheck", true)).map(m -> m.body());
    }

    /** Deploys {@code health} as if on {@code seen}: the Vert.x instance its code calls. */
    private void deploy(DriverHealthVerticle health, Vertx seen) {
        vertx.deployVerticle(new VerticleBase() {
            @Override
            public void init(Vertx v, Context context) {
                super.init(v, context);
                health.init(seen, context);
            }

            @Override
            public Future<?> start() throws Exception {
                return health.start();
            }

            @Override
            public Future<?> stop() throws Exception {
                return health.stop();
            }
        }).await();
    }

    /**
     * {@code real}, except that {@code executeBlocking} returns only once the worker has finished:
     * the event loop thread was held up right after handing the work over, as a busy host may do.
     */
    private static Vertx workerFinishesFirst(Vertx real) {
        return (Vertx) Proxy.newProxyInstance(Vertx.class.getClassLoader(), new Class<?>[]{Vertx.class}, (proxy, method, args) -> {
            Object result;
            try {
                result = method.invoke(real, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
            if (method.getName().equals("executeBlocking") && result instanceof Future<?> f) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (!f.isComplete() && System.nanoTime() < deadline) Thread.onSpinWait();
            }
            return result;
        });
    }
}
