# Test application for the WASI adapter: exercises exavmlib's Elixir modules
# (Enum, Map, Keyword, Integer, String.Chars, exceptions; there is no
# String module in exavmlib) on AtomVM and answers
# with one line per check.
defmodule ElixirApp do
  def start do
    request = :wasi.read_stdin()
    # exavmlib has no String module; :binary is AtomVM's own.
    words = for w <- :binary.split(request, " ", [:global]), w != "", do: w

    checks = [
      {"enum", Enum.map([1, 2, 3], &(&1 * 2)) == [2, 4, 6]},
      {"reduce", Enum.reduce(1..10, 0, &+/2) == 55},
      {"map", Map.get(Map.put(%{a: 1}, :b, 2), :b) == 2},
      {"keyword", Keyword.get([x: 1, y: 2], :y) == 2},
      {"integer", Integer.to_string(255, 16) == "FF"},
      {"chars", to_string(42) <> "!" == "42!"},
      {"interpolation", "#{:atom}-#{1.5}" == "atom-1.5"},
      {"rescue", rescue_check()},
      {"words", length(words) == 3}
    ]

    failed = for {name, false} <- checks, do: name
    IO.puts("elixir_app ran #{length(checks)} checks")

    body =
      case failed do
        [] -> "all ok"
        _ -> "failed: " <> Enum.join(failed, ",")
      end

    :wasi.respond(body)
  end

  defp rescue_check do
    try do
      raise ArgumentError, "bad"
    rescue
      e in ArgumentError -> e.message == "bad"
    end
  end
end
