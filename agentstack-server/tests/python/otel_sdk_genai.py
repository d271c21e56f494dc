"""Spans made with the plain OpenTelemetry Python SDK, in the GenAI semantic conventions.

An agent span with a chat span and a failing tool span under it, exported by the official
OTLP/HTTP protobuf exporter (or, with OTEL_EXPORTER_OTLP_PROTOCOL=grpc, the OTLP/gRPC one), configured only through OTEL_* variables (the test sets
OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_COMPRESSION=gzip). Used by
agentstack-server/tests/python_clients.rs.
"""

import os

from opentelemetry import trace

# OTEL_EXPORTER_OTLP_PROTOCOL picks the official exporter: OTLP/HTTP protobuf or OTLP/gRPC.
if os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
else:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode


def main() -> None:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    tracer = provider.get_tracer("python-genai-demo")

    with tracer.start_as_current_span("invoke_agent planner") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent.set_attribute("gen_ai.agent.name", "planner")
        agent.set_attribute("gen_ai.conversation.id", "py-session-1")
        with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as chat:
            chat.set_attribute("gen_ai.operation.name", "chat")
            chat.set_attribute("gen_ai.provider.name", "openai")
            chat.set_attribute("gen_ai.request.model", "gpt-4o")
            chat.set_attribute("gen_ai.response.model", "gpt-4o-2024-08-06")
            chat.set_attribute("gen_ai.usage.input_tokens", 120)
            chat.set_attribute("gen_ai.usage.output_tokens", 30)
            chat.set_attribute("gen_ai.usage.cache_read.input_tokens", 100)
        with tracer.start_as_current_span("execute_tool search") as tool:
            tool.set_attribute("gen_ai.operation.name", "execute_tool")
            tool.set_attribute("gen_ai.tool.name", "search")
            tool.set_status(Status(StatusCode.ERROR, "search backend timed out"))
    provider.shutdown()
    print("exported")


if __name__ == "__main__":
    main()
