package dev.microvm.orchestrator.secrets;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.pattern.CompositeConverter;

/**
 * Logback pattern converter {@code %redact(...)}: whatever the wrapped pattern renders (message,
 * exception stack trace) passes through {@link Redactor#global()} before it is written, so a
 * credential that slips into a log statement or an exception message never reaches the log.
 * Registered in {@code logback.xml}.
 */
public final class RedactingConverter extends CompositeConverter<ILoggingEvent> {
    @Override
    protected String transform(ILoggingEvent event, String in) {
        return Redactor.global().redact(in);
    }
}
