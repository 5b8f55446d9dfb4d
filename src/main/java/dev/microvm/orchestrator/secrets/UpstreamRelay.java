package dev.microvm.orchestrator.secrets;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.RequestOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.stream.Collectors;

/**
 * The credential proxy's upstream half: one accepted guest request goes to the API with the real
 * credential in place of the placeholder, and the answer streams back chunk by chunk with back
 * pressure; a metered answer's usage is read on the way and handed to {@code onUsage}.
 */
final class UpstreamRelay {

    private static final Logger LOG = LoggerFactory.getLogger(UpstreamRelay.class);

    static final String OAUTH_BETA = "oauth-2025-04-20";

    /** Never copied between the two connections: hop-by-hop, or set by the proxy itself. */
    private static final Set<String> NOT_FORWARDED = Set.of("connection", "keep-alive", "proxy-connection",
            "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization", "proxy-authenticate",
            "host", "content-length", "accept-encoding", "x-api-key", "authorization", "cookie", "forwarded",
            "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto");

    private final HttpClient client;
    private final ApiProxyConfig config;
    private final Credential credential;
    private final Redactor redactor;
    private final BiConsumer<String, Usage> onUsage;

    UpstreamRelay(HttpClient client, ApiProxyConfig config, Credential credential, Redactor redactor,
                  BiConsumer<String, Usage> onUsage) {
        this.client = client;
        this.config = config;
        this.credential = credential;
        this.redactor = redactor;
        this.onUsage = onUsage;
    }

    /** Sends the guest's request upstream with the real credential and streams the answer back. */
    void forward(HttpServerRequest req, String taskId, Buffer body) {
        RequestOptions options = new RequestOptions()
                .setMethod(req.method())
                .setHost(config.upstream().getHost())
                .setPort(config.upstreamPort())
                .setSsl(config.upstreamTls())
                .setURI(config.upstreamBasePath() + req.uri());
        req.headers().forEach((name, value) -> {
            if (!NOT_FORWARDED.contains(name.toLowerCase(Locale.ROOT)) && !name.equalsIgnoreCase("anthropic-beta")) {
                options.addHeader(name, value);
            }
        });
        options.putHeader(HttpHeaders.ACCEPT_ENCODING, "identity"); // usage is read from the body on the way
        injectCredential(options, req.getHeader("anthropic-beta"));

        boolean metered = ProxyRoutes.isMetered(req.path());
        HttpServerResponse out = req.response();
        client.request(options)
                .compose(upstreamReq -> {
                    out.closeHandler(v -> {
                        if (!out.ended()) upstreamReq.reset(); // the guest went away: stop paying for the answer
                    });
                    return upstreamReq.send(body);
                })
                .onSuccess(upstream -> relay(upstream, out, taskId, metered))
                .onFailure(e -> {
                    LOG.warn("task {}: upstream request failed: {}", taskId, redactor.redact(String.valueOf(e.getMessage())));
                    if (!out.headWritten() && !out.closed()) {
                        ApiProxyVerticle.reject(req, 502, "api_error", "the API proxy could not reach the upstream API");
                    } else if (!out.closed()) {
                        out.reset();
                    }
                });
    }

    private void injectCredential(RequestOptions options, String betaHeader) {
        Set<String> betas = betaHeader == null ? new LinkedHashSet<>()
                : Arrays.stream(betaHeader.split(",")).map(String::strip).filter(s -> !s.isEmpty())
                    .collect(Collectors.toCollection(LinkedHashSet::new));
        switch (credential.kind()) {
            case API_KEY -> {
                options.putHeader("x-api-key", credential.secret().reveal());
                betas.remove(OAUTH_BETA);
            }
            case OAUTH -> {
                options.putHeader(HttpHeaders.AUTHORIZATION, "Bearer " + credential.secret().reveal());
                betas.add(OAUTH_BETA); // the Messages API accepts OAuth tokens only with this beta
            }
        }
        if (!betas.isEmpty()) options.putHeader("anthropic-beta", String.join(",", betas));
    }

    private void relay(HttpClientResponse upstream, HttpServerResponse out, String taskId, boolean metered) {
        if (out.closed()) {
            upstream.request().reset();
            return;
        }
        out.setStatusCode(upstream.statusCode());
        upstream.headers().forEach((name, value) -> {
            if (!NOT_FORWARDED.contains(name.toLowerCase(Locale.ROOT)) && !name.equalsIgnoreCase("set-cookie")) {
                out.headers().add(name, value);
            }
        });
        out.setChunked(true);
        UsageMeter meter = metered && upstream.statusCode() == 200
                ? new UsageMeter(upstream.getHeader(HttpHeaders.CONTENT_TYPE)) : null;
        upstream.handler(chunk -> {
            if (meter != null) meter.accept(chunk);
            out.write(chunk);
            if (out.writeQueueFull()) {
                upstream.pause();
                out.drainHandler(v -> upstream.resume());
            }
        });
        upstream.exceptionHandler(e -> {
            LOG.warn("task {}: upstream response broke off: {}", taskId, redactor.redact(String.valueOf(e.getMessage())));
            if (!out.closed()) out.reset();
        });
        upstream.endHandler(v -> {
            if (!out.closed()) out.end();
            if (meter != null) meter.finish().ifPresent(usage -> onUsage.accept(taskId, usage));
        });
        LOG.debug("task {}: {} {} -> {}", taskId, upstream.request().getMethod(), upstream.request().path(), upstream.statusCode());
    }
}
