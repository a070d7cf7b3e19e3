%% inet -- the part of OTP's `inet' a worker can have: IP address parsing
%% and formatting.
%%
%% A worker has no sockets, no resolver and no interfaces, so AtomVM's own
%% `inet' (its socket driver's front end, which settings.rs lists in
%% ESTDLIB_EXCLUDED) has nothing to do here. What Elixir code does reach is
%% the address parsers: OTP's `uri_string' checks an IP-literal host with
%% parse_ipv6strict_address/1 (`URI.new("http://[fe80::1]/")'), and apps
%% parse and print addresses themselves. These delegate, as OTP's `inet'
%% does, to OTP's `inet_parse', which the build takes from the user's Erlang
%% installation (collect.rs, OTP_KERNEL_MODULES), so the answers are OTP's.
-module(inet).

-export([
    parse_address/1,
    parse_strict_address/1,
    parse_ipv4_address/1,
    parse_ipv4strict_address/1,
    parse_ipv6_address/1,
    parse_ipv6strict_address/1,
    ntoa/1
]).

-type ip4_address() :: {0..255, 0..255, 0..255, 0..255}.
-type ip6_address() :: {
    0..65535, 0..65535, 0..65535, 0..65535, 0..65535, 0..65535, 0..65535, 0..65535
}.
-type ip_address() :: ip4_address() | ip6_address().

-export_type([ip_address/0, ip4_address/0, ip6_address/0]).

-spec parse_address(string()) -> {ok, ip_address()} | {error, einval}.
parse_address(Address) -> inet_parse:address(Address).

-spec parse_strict_address(string()) -> {ok, ip_address()} | {error, einval}.
parse_strict_address(Address) -> inet_parse:strict_address(Address).

-spec parse_ipv4_address(string()) -> {ok, ip4_address()} | {error, einval}.
parse_ipv4_address(Address) -> inet_parse:ipv4_address(Address).

-spec parse_ipv4strict_address(string()) -> {ok, ip4_address()} | {error, einval}.
parse_ipv4strict_address(Address) -> inet_parse:ipv4strict_address(Address).

-spec parse_ipv6_address(string()) -> {ok, ip6_address()} | {error, einval}.
parse_ipv6_address(Address) -> inet_parse:ipv6_address(Address).

-spec parse_ipv6strict_address(string()) -> {ok, ip6_address()} | {error, einval}.
parse_ipv6strict_address(Address) -> inet_parse:ipv6strict_address(Address).

-spec ntoa(ip_address()) -> string() | {error, einval}.
ntoa(Address) -> inet_parse:ntoa(Address).
