"""A LangGraph agent with one tool call, on a fake chat model, traced by OpenLLMetry.

The same graph as langgraph_openinference.py, instrumented instead by Traceloop's
opentelemetry-instrumentation-langchain (OpenLLMetry). Runs offline: the model is LangChain's
GenericFakeChatModel replaying two answers (a tool call, then the final text), made
serializable so that OpenLLMetry reads its model name from the serialized kwargs (otherwise it
reports "unknown"). Spans go over OTLP/HTTP protobuf to OTEL_EXPORTER_OTLP_ENDPOINT, configured
only through the standard OTEL_* variables. Used by agentstack-server/tests/python_clients.rs.
"""

from typing import Annotated, TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.langchain import LangchainInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


class ToolCallingFakeModel(GenericFakeChatModel):
    """The fake model, with the bind_tools that LangGraph agents call, a model name as a real
    chat model has, and serializable (LangChain then passes its kwargs, the model name among
    them, to the callbacks OpenLLMetry listens on)."""

    model_name: str = "fake-gpt-4o"

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    def bind_tools(self, tools, **kwargs):
        return self


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"It is sunny in {city}."


class State(TypedDict):
    messages: Annotated[list, add_messages]


def main() -> None:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    LangchainInstrumentor().instrument(tracer_provider=provider)

    model = ToolCallingFakeModel(
        messages=iter(
            [
                AIMessage(
                    content="",
                    tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}],
                    usage_metadata={"input_tokens": 42, "output_tokens": 7, "total_tokens": 49},
                ),
                AIMessage(
                    content="It is sunny in Paris.",
                    usage_metadata={"input_tokens": 60, "output_tokens": 9, "total_tokens": 69},
                ),
            ]
        )
    ).bind_tools([get_weather])

    def agent(state: State) -> dict:
        return {"messages": [model.invoke(state["messages"])]}

    def route(state: State) -> str:
        return "tools" if state["messages"][-1].tool_calls else END

    graph = StateGraph(State)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode([get_weather]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, ["tools", END])
    graph.add_edge("tools", "agent")
    app = graph.compile()

    result = app.invoke(
        {"messages": [HumanMessage(content="What is the weather in Paris?")]},
        config={"configurable": {"thread_id": "weather-thread-1"}},
    )
    print("answer:", result["messages"][-1].content)
    provider.shutdown()


if __name__ == "__main__":
    main()
