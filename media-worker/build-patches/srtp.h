// libsrtp3 API (as used by the mediasoup worker) on top of Debian's libsrtp2.
//
// mediasoup >= 3.15 is written against libsrtp 3 (versatica's fork: separate input/output
// buffers, size_t lengths; since 3.2x also the opaque policy object built with
// srtp_policy_create() / srtp_policy_set_*() / srtp_policy_add_key()). Debian 12 ships libsrtp2
// 2.5 (in-place calls with int* lengths, a plain policy struct holding key||salt). These inline
// C++ overloads translate: protect/unprotect copy the input into the output buffer and call the
// in-place libsrtp2 function; the policy object wraps libsrtp2's struct and owns the key.
// Used only by the offline source build (media-worker/scripts/obtain-worker.sh), which puts
// this file first on the include path as <srtp.h>.
#pragma once

// libsrtp2 names its policy struct srtp_policy_t; libsrtp3 uses that name for an opaque
// pointer. Include libsrtp2 with its struct renamed (its functions keep their C symbols).
#define srtp_policy_t meet_srtp2_policy_t
#include <srtp2/srtp.h>
#undef srtp_policy_t

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

// Error codes that libsrtp2 does not have; distinct values libsrtp2 never returns.
static constexpr srtp_err_status_t srtp_err_status_buffer_small = static_cast<srtp_err_status_t>(100);
static constexpr srtp_err_status_t srtp_err_status_cryptex_err = static_cast<srtp_err_status_t>(101);

namespace meet_srtp_compat
{
	using InPlaceFn = srtp_err_status_t (*)(srtp_t, void*, int*);

	inline srtp_err_status_t Run(
	  InPlaceFn fn, srtp_t ctx, const uint8_t* in, size_t inLen, uint8_t* out, size_t* outLen, size_t trailer)
	{
		// libsrtp3 semantics: *outLen is the capacity of `out` on input.
		if (outLen == nullptr || inLen + trailer > *outLen || inLen > INT32_MAX)
			return srtp_err_status_buffer_small;

		if (out != in)
			std::memmove(out, in, inLen);

		int len = static_cast<int>(inLen);
		const srtp_err_status_t err = fn(ctx, out, &len);

		if (err == srtp_err_status_ok)
			*outLen = static_cast<size_t>(len);

		return err;
	}
} // namespace meet_srtp_compat

inline srtp_err_status_t srtp_protect(
  srtp_t ctx, const uint8_t* rtp, size_t rtpLen, uint8_t* srtp, size_t* srtpLen, size_t /*mkiIndex*/)
{
	return meet_srtp_compat::Run(::srtp_protect, ctx, rtp, rtpLen, srtp, srtpLen, SRTP_MAX_TRAILER_LEN);
}

inline srtp_err_status_t srtp_unprotect(
  srtp_t ctx, const uint8_t* srtp, size_t srtpLen, uint8_t* rtp, size_t* rtpLen)
{
	return meet_srtp_compat::Run(::srtp_unprotect, ctx, srtp, srtpLen, rtp, rtpLen, 0);
}

inline srtp_err_status_t srtp_protect_rtcp(
  srtp_t ctx, const uint8_t* rtcp, size_t rtcpLen, uint8_t* srtcp, size_t* srtcpLen, size_t /*mkiIndex*/)
{
	return meet_srtp_compat::Run(
	  ::srtp_protect_rtcp, ctx, rtcp, rtcpLen, srtcp, srtcpLen, SRTP_MAX_TRAILER_LEN + 4 /* SRTCP index */);
}

inline srtp_err_status_t srtp_unprotect_rtcp(
  srtp_t ctx, const uint8_t* srtcp, size_t srtcpLen, uint8_t* rtcp, size_t* rtcpLen)
{
	return meet_srtp_compat::Run(::srtp_unprotect_rtcp, ctx, srtcp, srtcpLen, rtcp, rtcpLen, 0);
}

inline srtp_err_status_t srtp_stream_remove(srtp_t session, uint32_t ssrc)
{
	return srtp_remove_stream(session, ssrc);
}

// ---- libsrtp3 policy object.

struct meet_srtp_policy
{
	meet_srtp2_policy_t policy;
	bool hasProfile;
	srtp_profile_t profile;
	unsigned char key[SRTP_MAX_KEY_LEN]; // master key || master salt, as libsrtp2 wants it.
};

typedef meet_srtp_policy* srtp_policy_t;

inline srtp_err_status_t srtp_policy_create(srtp_policy_t* policy)
{
	if (policy == nullptr)
		return srtp_err_status_bad_param;

	*policy = new (std::nothrow) meet_srtp_policy{};

	if (*policy == nullptr)
		return srtp_err_status_alloc_fail;

	std::memset(&(*policy)->policy, 0, sizeof((*policy)->policy));
	(*policy)->policy.next = nullptr;

	return srtp_err_status_ok;
}

inline void srtp_policy_destroy(srtp_policy_t policy)
{
	if (policy == nullptr)
		return;

	// Do not leave key material behind in freed memory.
	volatile unsigned char* key = policy->key;

	for (size_t i = 0; i < sizeof(policy->key); ++i)
		key[i] = 0;

	delete policy;
}

inline srtp_err_status_t srtp_policy_set_ssrc(srtp_policy_t policy, srtp_ssrc_t ssrc)
{
	if (policy == nullptr)
		return srtp_err_status_bad_param;

	policy->policy.ssrc = ssrc;

	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_policy_set_profile(srtp_policy_t policy, srtp_profile_t profile)
{
	if (policy == nullptr)
		return srtp_err_status_bad_param;

	srtp_err_status_t err = srtp_crypto_policy_set_from_profile_for_rtp(&policy->policy.rtp, profile);

	if (err != srtp_err_status_ok)
		return err;

	err = srtp_crypto_policy_set_from_profile_for_rtcp(&policy->policy.rtcp, profile);

	if (err != srtp_err_status_ok)
		return err;

	policy->hasProfile = true;
	policy->profile    = profile;

	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_policy_add_key(
  srtp_policy_t policy,
  const uint8_t* key,
  size_t keyLen,
  const uint8_t* salt,
  size_t saltLen,
  const uint8_t* /*mki*/,
  size_t mkiLen)
{
	// One key without MKI is all the worker uses (and all this shim supports).
	if (policy == nullptr || key == nullptr || salt == nullptr || mkiLen != 0 || policy->policy.key != nullptr)
		return srtp_err_status_bad_param;

	if (keyLen + saltLen > sizeof(policy->key))
		return srtp_err_status_bad_param;

	if (
	  policy->hasProfile && (keyLen != srtp_profile_get_master_key_length(policy->profile) ||
	                         saltLen != srtp_profile_get_master_salt_length(policy->profile)))
	{
		return srtp_err_status_bad_param;
	}

	std::memcpy(policy->key, key, keyLen);
	std::memcpy(policy->key + keyLen, salt, saltLen);
	policy->policy.key = policy->key;

	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_policy_set_allow_repeat_tx(srtp_policy_t policy, bool allow)
{
	if (policy == nullptr)
		return srtp_err_status_bad_param;

	policy->policy.allow_repeat_tx = allow ? 1 : 0;

	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_policy_set_window_size(srtp_policy_t policy, size_t windowSize)
{
	if (policy == nullptr)
		return srtp_err_status_bad_param;

	policy->policy.window_size = static_cast<unsigned long>(windowSize);

	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_create(srtp_t* session, srtp_policy_t policy)
{
	if (policy == nullptr || policy->policy.key == nullptr || !policy->hasProfile)
		return srtp_err_status_bad_param;

	return ::srtp_create(session, &policy->policy);
}
