"""An AutoGen AgentChat team traced by AutoGen's own (built-in) tracing, no instrumentation.

With a tracer provider set, autogen-core traces its runtime (a span per message created,
published, processed; each message delivery starts a new trace that points to its cause only
with span links) and its agents and tools (GenAI spans: create_agent, invoke_agent,
execute_tool; no LLM spans). The team is the one of autogen_openinference.py: weather_agent
calls the get_weather tool, writer sums up and says TERMINATE, both on
OpenAIChatCompletionClient pointed at a stub of the OpenAI API started here on 127.0.0.1
(openai_stub.py), so the run is offline. Spans go over OTLP/HTTP protobuf to
OTEL_EXPORTER_OTLP_ENDPOINT, configured only through the standard OTEL_* variables. Used by
agentstack-server/tests/python_clients.rs.
"""

import asyncio

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import MaxMessageTermination, TextMentionTermination
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_core import SingleThreadedAgentRuntime
from autogen_ext.models.openai import OpenAIChatCompletionClient
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from openai_stub import StubOpenAI


async def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"It is sunny in {city}."


async def run_team(base_url: str, provider: TracerProvider) -> None:
    runtime = SingleThreadedAgentRuntime(tracer_provider=provider)
    runtime.start()
    model_client = OpenAIChatCompletionClient(model="gpt-4o-mini", base_url=base_url, api_key="stub")
    weather_agent = AssistantAgent(
        "weather_agent",
        model_client=model_client,
        tools=[get_weather],
        system_message="Look the weather up with the get_weather tool.",
    )
    writer = AssistantAgent(
        "writer",
        model_client=model_client,
        system_message="Sum the weather up in one sentence, then say TERMINATE.",
    )
    team = RoundRobinGroupChat(
        [weather_agent, writer],
        termination_condition=TextMentionTermination("TERMINATE") | MaxMessageTermination(8),
        runtime=runtime,
    )
    result = await team.run(task="What is the weather in Paris?")
    print("answer:", result.messages[-1].content)
    await runtime.stop_when_idle()
    await model_client.close()


def main() -> None:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    # The runtime takes the provider; the agents' and tools' GenAI spans use the global one.
    trace.set_tracer_provider(provider)
    with StubOpenAI() as stub:
        asyncio.run(run_team(stub.base_url, provider))
    provider.shutdown()


if __name__ == "__main__":
    main()
