# Writes the golden file of test/float_round_test.c from the real BEAM:
#
#   elixir crates/runtime/atomvm-wasi/test/float_round_golden.exs crates/runtime/atomvm-wasi/test/float_round_golden.txt
#
# One case a line: the input double's bit pattern (16 hex digits), the
# precision, the mode (round, ceil or floor) and the bit pattern of what
# Float.round/2, Float.ceil/2 or Float.floor/2 gives. The seed is fixed, so
# the file is the same on every run with the same Elixir.

[out] = System.argv()
:rand.seed(:exsss, {2026, 12, 6})

bits = fn f -> <<b::64>> = <<f::float>>; b end

from_bits = fn b ->
  <<f::float>> = <<b::64>>
  f
end

finite? = fn b -> Bitwise.band(Bitwise.bsr(b, 52), 0x7FF) != 0x7FF end

specials =
  [0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, 0.4, -0.4, 5.0e-324, -5.0e-324, 2.2250738585072014e-308,
   1.7976931348623157e308, -1.7976931348623157e308, 4.503599627370496e15, 9.007199254740992e15,
   5.5675, -5.5675, 5.5674, 2.675, 1.005, 0.125, 0.375, 12.341444444444441, -12.52, 34.251,
   34.259, 12.52, 1.0e-15, 4.0e-16, 5.0e-16, 9.99e-16, 1.0e20, 123456.789, 0.1, 0.2, 0.3]

# Decimals with few digits, where ties and near-ties live.
decimals =
  for _ <- 1..2000 do
    digits = :rand.uniform(17)
    scale = :rand.uniform(20) - 1
    n = :rand.uniform(Integer.pow(10, digits)) - 1
    sign = if :rand.uniform(2) == 1, do: 1, else: -1
    sign * n / Integer.pow(10, scale)
  end

# Any finite double.
random =
  Stream.repeatedly(fn -> :rand.uniform(Integer.pow(2, 64)) - 1 end)
  |> Stream.filter(finite?)
  |> Enum.take(800)
  |> Enum.map(from_bits)

# Magnitudes around the precisions: 10^-20 .. 10^20.
scaled =
  for _ <- 1..800 do
    m = :rand.uniform() * 10
    e = :rand.uniform(41) - 21
    sign = if :rand.uniform(2) == 1, do: 1, else: -1
    sign * m * :math.pow(10, e)
  end

lines =
  for x <- specials ++ decimals ++ random ++ scaled,
      precision <- (if x in specials, do: Enum.to_list(0..15), else: [:rand.uniform(16) - 1]),
      {mode, fun} <- [round: &Float.round/2, ceil: &Float.ceil/2, floor: &Float.floor/2] do
    hex = fn b -> b |> Integer.to_string(16) |> String.pad_leading(16, "0") end
    "#{hex.(bits.(x))} #{precision} #{mode} #{hex.(bits.(fun.(x, precision)))}\n"
  end

File.write!(out, lines)
IO.puts("#{length(lines)} cases written to #{out}")
