"""An AutoGen AgentChat team traced by OpenInference (openinference-instrumentation-autogen-agentchat).

A round-robin team of two assistants: weather_agent calls the get_weather tool, writer sums up
and says TERMINATE. Both talk to OpenAIChatCompletionClient pointed at a stub of the OpenAI API
started here on 127.0.0.1 (openai_stub.py), so the run is offline and its LLM spans carry
tokens. Spans go over OTLP/HTTP protobuf to OTEL_EXPORTER_OTLP_ENDPOINT, configured only
through the standard OTEL_* variables. Used by agentstack-server/tests/python_clients.rs.
"""

import asyncio

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import MaxMessageTermination, TextMentionTermination
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_ext.models.openai import OpenAIChatCompletionClient
from openinference.instrumentation.autogen_agentchat import AutogenAgentChatInstrumentor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from openai_stub import StubOpenAI


async def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"It is sunny in {city}."


async def run_team(base_url: str) -> None:
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
    )
    result = await team.run(task="What is the weather in Paris?")
    print("answer:", result.messages[-1].content)
    await model_client.close()


def main() -> None:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    # Only OpenInference's spans: the provider is not made global, so AutoGen's own tracing
    # (which uses the global provider; autogen_builtin.py covers it) stays off.
    AutogenAgentChatInstrumentor().instrument(tracer_provider=provider)
    with StubOpenAI() as stub:
        asyncio.run(run_team(stub.base_url))
    provider.shutdown()


if __name__ == "__main__":
    main()
