// ankerl::unordered_dense (martinus/unordered_dense, the header-only hash map mediasoup >= 3.2x
// fetches as a meson subproject) for the offline source build, on top of the standard library.
//
// Debian 12 does not package unordered_dense and nothing but the npm registry and Debian's
// repositories is reachable where the worker is built offline. The worker uses only
// `ankerl::unordered_dense::map`, `::set` and `::hash<T>` (lookups, insert/emplace, erase,
// iteration, contains, reserve), so these are aliases of std::unordered_map/set with a hash
// that mixes integers like unordered_dense does (wyhash's 128-bit multiply-fold), since
// mediasoup combines several of those hashes with Utils::Crypto::HashCombine().
//
// Semantics: std::unordered_map gives the stronger guarantees (references stay valid across
// inserts and erases of other elements; `it = map.erase(it)` continues the iteration), so code
// written for unordered_dense behaves the same here; only the iteration order differs, and
// unordered_dense does not promise one either once elements were erased. Slower than the
// real thing (node-based), irrelevant at a meeting server's map sizes.
//
// Used only by media-worker/scripts/obtain-worker.sh (copied to <worker>/meet-compat/ankerl/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace ankerl
{
	namespace unordered_dense
	{
		namespace detail
		{
			// wyhash's mum: 64x64 -> 128-bit multiply, folded with xor.
			inline std::uint64_t Mix(std::uint64_t a, std::uint64_t b) noexcept
			{
				const __uint128_t r = static_cast<__uint128_t>(a) * b;

				return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
			}

			inline constexpr std::uint64_t Golden{ UINT64_C(0x9E3779B97F4A7C15) };
		} // namespace detail

		template<typename T, typename Enable = void>
		struct hash
		{
			std::size_t operator()(const T& obj) const noexcept(noexcept(std::hash<T>{}(obj)))
			{
				return static_cast<std::size_t>(
				  detail::Mix(static_cast<std::uint64_t>(std::hash<T>{}(obj)), detail::Golden));
			}
		};

		// Integers, enums and pointers: mixed directly, as unordered_dense does.
		template<typename T>
		struct hash<T, std::enable_if_t<std::is_integral_v<T> || std::is_enum_v<T> || std::is_pointer_v<T>>>
		{
			using is_avalanching = void;

			std::size_t operator()(const T& obj) const noexcept
			{
				std::uint64_t value;

				if constexpr (std::is_pointer_v<T>)
				{
					value = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(obj));
				}
				else if constexpr (std::is_enum_v<T>)
				{
					value = static_cast<std::uint64_t>(static_cast<std::underlying_type_t<T>>(obj));
				}
				else
				{
					value = static_cast<std::uint64_t>(obj);
				}

				return static_cast<std::size_t>(detail::Mix(value, detail::Golden));
			}
		};

		template<
		  class Key,
		  class T,
		  class Hash      = hash<Key>,
		  class KeyEqual  = std::equal_to<Key>,
		  class Allocator = std::allocator<std::pair<const Key, T>>>
		using map = std::unordered_map<Key, T, Hash, KeyEqual, Allocator>;

		template<
		  class Key,
		  class T,
		  class Hash      = hash<Key>,
		  class KeyEqual  = std::equal_to<Key>,
		  class Allocator = std::allocator<std::pair<const Key, T>>>
		using segmented_map = std::unordered_map<Key, T, Hash, KeyEqual, Allocator>;

		template<class Key, class Hash = hash<Key>, class KeyEqual = std::equal_to<Key>, class Allocator = std::allocator<Key>>
		using set = std::unordered_set<Key, Hash, KeyEqual, Allocator>;

		template<class Key, class Hash = hash<Key>, class KeyEqual = std::equal_to<Key>, class Allocator = std::allocator<Key>>
		using segmented_set = std::unordered_set<Key, Hash, KeyEqual, Allocator>;
	} // namespace unordered_dense
} // namespace ankerl
