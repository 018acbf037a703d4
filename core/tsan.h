/* ThreadSanitizer annotations for what it cannot see (tests/tsan.supp).
 *
 * liburcu detects the end of a grace period with its own barriers and
 * futexes, which ThreadSanitizer does not model, so every free done after
 * a grace period (call_rcu callbacks, zombie subscriptions, a replaced
 * configuration) would look like a race with the readers that used the
 * memory before their quiescent states. The happens-before is real: a
 * callback runs only after every reader passed a quiescent state. It is
 * told to ThreadSanitizer through one address: each reader releases it
 * just before a quiescent state (or going offline), and whatever runs
 * after a grace period acquires it. Outside TSan builds these are no-ops. */
#ifndef GANNET_TSAN_H
#define GANNET_TSAN_H

#if defined(__SANITIZE_THREAD__)
#define GANNET_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GANNET_TSAN 1
#endif
#endif

#ifdef GANNET_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
extern char tsan_grace_token;
#define TSAN_GRACE_RELEASE() __tsan_release(&tsan_grace_token)
#define TSAN_GRACE_ACQUIRE() __tsan_acquire(&tsan_grace_token)
/* An object published through liburcu's own code (cds_lfht_add): released
 * by the writer before, acquired by a reader before it reads the fields. */
#define TSAN_PUBLISH(p) __tsan_release((void *)(p))
#define TSAN_CONSUME(p) __tsan_acquire((void *)(p))
#else
#define TSAN_GRACE_RELEASE() ((void)0)
#define TSAN_GRACE_ACQUIRE() ((void)0)
#define TSAN_PUBLISH(p) ((void)0)
#define TSAN_CONSUME(p) ((void)0)
#endif
#endif
