# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: embedsignature=True, auto_pickle=False
"""fastinit's Philox4x32-10 as a numpy.random.BitGenerator, and the Generator's stream numbers.

A Philox's position is (stream, word): the next word a direct read returns is word ``word`` of
stream ``stream`` (docs/stream.md).  Two kinds of user share it:

- NumPy code reads words through the ``bitgen_t`` capsule (``next_uint32`` and the others, in
  bit_generator.h), from a buffer that the current SIMD level's Philox fills;
- ``fastinit.Generator`` takes a whole stream per call (``take_into``): the current one if none of
  its words were read, else the next; the position then moves to word 0 of the stream after it.

take_into reads and advances the position while holding the GIL and never lets it go in between,
so two Python threads are never handed the same stream.  A Philox that other code can reach
(created by the user, or handed out by ``Generator.bit_generator``) also takes the lock that NumPy
holds while it reads words; the private one of a Generator skips it (~0.1 us a call).

May import: numpy (and its C API), the C headers beside it (bit_generator.h); of fastinit only
fastinit._core.simd, lazily, at the first draw (the SIMD level's Philox, through a pointer: simd
imports the kernels, which cimport this module).
"""
from cpython.pycapsule cimport PyCapsule_GetPointer
from cpython.pystate cimport PyThreadState_GetDict
from libc.stdint cimport uint64_t

from collections.abc import Mapping

import numpy as np
from numpy.random import SeedSequence

cdef uint64_t _LAST = 0xFFFFFFFFFFFFFFFF
_WORDS_PER_STREAM = 4 << 64         # 2**64 blocks of 4 words
_NAME = "fastinit.Philox"


cdef fastinit_words_fn _current_words() except NULL:
    """The Philox word function of the SIMD level in use (fastinit._core.simd)."""
    from fastinit._core import simd     # here: simd imports the kernels, which cimport us
    return <fastinit_words_fn>PyCapsule_GetPointer(simd.kernels.PHILOX_WORDS,
                                                 b"fastinit.philox_words")


def bounded_fill(out, uint64_t key, uint64_t stream, uint64_t off, uint64_t rng):
    """Fill ``out`` (a C-contiguous int32 or int64 array) with ``off + [0, rng]`` from word 0 of
    ``stream``: ``numpy.random.Generator(Philox(key=key, stream=stream)).integers``'s values for
    that (off, rng), computed without NumPy's indirect call per value (bit_generator.h)."""
    cdef fastinit_position position
    cdef uint32_t[::1] out32
    cdef uint64_t[::1] out64
    position.fill = _current_words()
    fastinit_seek(&position, key, stream, 0, 0)
    flat = out.reshape(-1)
    if out.itemsize == 4:
        out32 = flat.view(np.uint32)
        with nogil:
            fastinit_bounded_fill32(&position, <uint32_t>off, <uint32_t>rng, out32.shape[0],
                                    &out32[0])
    else:
        out64 = flat.view(np.uint64)
        with nogil:
            fastinit_bounded_fill64(&position, off, rng, out64.shape[0], &out64[0])


def shuffle_contiguous(x, uint64_t key, uint64_t stream):
    """Shuffle the C-contiguous 1-d array ``x`` of 4- or 8-byte items in place from word 0 of
    ``stream``: ``numpy.random.Generator(Philox(key=key, stream=stream)).shuffle(x)``'s order,
    computed without NumPy's indirect call per draw (bit_generator.h)."""
    cdef fastinit_position position
    cdef uint32_t[::1] x32
    cdef uint64_t[::1] x64
    position.fill = _current_words()
    fastinit_seek(&position, key, stream, 0, 0)
    if x.itemsize == 4:
        x32 = x.view(np.uint32)
        with nogil:
            fastinit_shuffle32(&position, x32.shape[0], &x32[0])
    else:
        x64 = x.view(np.uint64)
        with nogil:
            fastinit_shuffle64(&position, x64.shape[0], &x64[0])


cdef object _word_at(uint64_t next_block, int pos):
    # The word a position (next_block, pos) reads next.  next_block wraps past the stream's last
    # block: the word is taken mod 2**66 with it.
    return (4 * <object>next_block - FASTINIT_BUFFER_WORDS + pos) % _WORDS_PER_STREAM


# NumPy's methods over a stream (fastinit._numpy_methods): per thread, in the thread state's dict,
# one entry (Philox, {name: its numpy Generator's bound method}, kernels, that Generator), moved to
# each call's stream.  Building one costs ~3 us, moving it ~0.05 us.  A call takes the entry out
# while it runs, so a nested call (a list's __setitem__ calling back into fastinit during
# shuffle) builds its own.
_ENTRY = "fastinit.numpy_call"
_UNSEEDED = SeedSequence(0)         # never read: the Philox is always moved first
cdef object _simd_module = None
# Per method: the defaults of its trailing positional parameters and of its keyword-only ones.
# Arguments that are these very objects are not passed on: NumPy then takes its own defaults
# (the same values, tested), and parsing an explicit dtype=np.float64 costs it ~0.25 us a call.
cdef dict _defaults = {}


def register_numpy_method(str name, tuple defaults, dict kwdefaults):
    """Record a delegated method's defaults (fastinit._numpy_methods), for numpy_call."""
    _defaults[name] = (defaults, kwdefaults)


def numpy_call(generator, str name, *args):
    """``numpy.random.Generator.<name>(*args)`` over word 0 of the next stream of ``generator``
    (a fastinit.Generator): one stream per call.  A call that NumPy refuses gives the stream
    number back, so a failed call changes nothing."""
    return _numpy_call(generator, name, args, None)


def numpy_call_kw(generator, str name, tuple args, dict kwargs):
    """As numpy_call, with keyword arguments."""
    return _numpy_call(generator, name, args, kwargs)


cdef object _numpy_call(generator, str name, tuple args, dict kwargs):
    global _simd_module
    cdef Philox streams = generator._bit_generator
    cdef fastinit_position* p = &streams.position
    cdef Philox words
    cdef uint64_t stream, before_stream, before_block
    cdef int before_pos
    cdef bint before_exhausted
    cdef dict state = <dict>PyThreadState_GetDict()
    if _simd_module is None:
        from fastinit._core import simd
        _simd_module = simd
    kernels = _simd_module.kernels
    entry = state.pop(_ENTRY, None)
    if entry is None or (<tuple>entry)[2] is not kernels:     # a new SIMD level: its words
        words = Philox(_UNSEEDED)
        entry = (words, {}, kernels, np.random.Generator(words))
    words = <Philox>(<tuple>entry)[0]
    methods = <dict>(<tuple>entry)[1]
    known = _defaults.get(name)
    if known is not None:
        args, kwargs = _without_defaults(args, kwargs, <tuple>known)
    try:
        method = methods.get(name)
        if method is None:
            method = methods[name] = getattr((<tuple>entry)[3], name)
        # The position before the take is read under the take's lock, if it has one: another
        # thread's take must not come between them.
        lock = streams.lock if streams.shared else None
        if lock is not None:
            lock.acquire()
        try:
            before_stream, before_block, before_pos = p.stream, p.next_block, p.pos
            before_exhausted = p.exhausted
            streams._take(&stream)
        finally:
            if lock is not None:
                lock.release()
        fastinit_seek(&words.position, p.key, stream, 0, 0)
        try:
            if kwargs:
                return method(*args, **kwargs)
            return method(*args)
        except BaseException:
            streams._untake(stream, (before_stream, _word_at(before_block, before_pos),
                                     before_exhausted))
            raise
    finally:
        state[_ENTRY] = entry


cdef tuple _without_defaults(tuple args, dict kwargs, tuple known):
    # args and kwargs without the trailing positional arguments, and the keyword ones, that are
    # their parameters' default objects.
    cdef tuple defaults = <tuple>known[0]
    cdef dict kwdefaults = <dict>known[1]
    cdef Py_ssize_t n = len(args), d = len(defaults)
    while n > 0 and d > 0 and args[n - 1] is defaults[d - 1]:
        n -= 1
        d -= 1
    if n < len(args):
        args = args[:n]
    if kwargs is not None and kwdefaults:
        kwargs = {k: v for k, v in kwargs.items() if v is not kwdefaults.get(k, _MISSING)}
    return args, kwargs


cdef object _MISSING = object()


def _check_int(value, name, upper, interval="[0, 2**64)"):
    """``value`` as an int in [0, upper): TypeError if it is not an integer, else ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = int(value)
    if not 0 <= value < upper:
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return value


def _count(value, name):
    """``value`` as an int >= 0 (no upper bound): TypeError if not an integer, else ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value)


def _seed_sequence(seed):
    # Generators of any kind (NumPy's, fastinit's) and bit generators are not seeds.  (Looked up
    # on the type: fastinit.Generator.bit_generator, read on an instance, shares its Philox.)
    if isinstance(seed, (np.random.Generator, np.random.BitGenerator)) \
            or hasattr(type(seed), "bit_generator"):
        raise TypeError("seed must be None, an int, a sequence of ints or a SeedSequence; "
                        f"got a {type(seed).__name__} (pass its seed instead)")
    if isinstance(seed, SeedSequence):
        return seed
    return SeedSequence(seed)


def key_from_seed_sequence(seed_seq):
    """The Philox key of a SeedSequence: ``(k0, k1) = seed_seq.generate_state(2, np.uint32)``."""
    k0, k1 = (int(w) for w in seed_seq.generate_state(2, np.uint32))
    return k0 | (k1 << 32)


cdef class Philox(BitGenerator):
    """Philox(seed=None, *, key=None, stream=0)

    fastinit's Philox4x32-10 stream as a ``numpy.random.BitGenerator``.

    ``numpy.random.Generator(fastinit.Philox(seed, stream=s))`` runs any NumPy method over the words
    ``w[0], w[1], ...`` of stream ``s``, read in block order from block 0: exactly the words of
    ``fastinit.Generator(seed, stream=s).random_raw(n)``.

    Parameters
    ----------
    seed : None, int, sequence of int or numpy.random.SeedSequence, optional
        Entropy, as ``numpy.random.default_rng`` reads it; the key is
        ``(k0, k1) = SeedSequence(seed).generate_state(2, np.uint32)``, as for
        ``fastinit.Generator``.  None draws fresh entropy from the operating system.
    key : int, optional
        The 64-bit key itself (``k0 = key & 0xffffffff``, ``k1 = key >> 32``), instead of a seed.
    stream : int, optional
        The stream to read, in [0, 2**64).

    Notes
    -----
    Block ``j`` of stream ``s`` is ``philox4x32_10(counter=(j & 0xffffffff, j >> 32,
    s & 0xffffffff, s >> 32), key=(k0, k1))`` and holds the words ``w[4j] .. w[4j+3]``.  The
    ``bitgen_t`` functions take words in order:

    - ``next_uint32`` and ``next_raw`` (hence ``random_raw``): the next word;
    - ``next_uint64``: the next two words, the first in the low half, ``w[i] | w[i+1] << 32``;
    - ``next_double``: ``(next_uint64 >> 11) * 2**-53``, as fastinit's float64 ``random``.

    ``advance(delta)`` skips ``delta`` words of the stream; ``jumped(jumps)`` returns a Philox at
    word 0 of stream ``stream + jumps``.  ``state`` is
    ``{"bit_generator": "fastinit.Philox", "state": {"key": K, "stream": s, "word": w}}``.

    References
    ----------
    .. [1] J. K. Salmon, M. A. Moraes, R. O. Dror, D. E. Shaw, "Parallel random numbers: as easy
           as 1, 2, 3", SC11 (2011).

    Examples
    --------
    >>> import numpy as np, fastinit as fi
    >>> words = np.random.Generator(fi.Philox(7, stream=3)).bit_generator.random_raw(4)
    >>> bool((words == fi.Generator(7, stream=3).random_raw(4)).all())
    True
    """

    def __init__(self, seed=None, *, key=None, stream=0):
        stream = _check_int(stream, "stream", 1 << 64)
        if key is not None:
            if seed is not None:
                raise TypeError("give either seed or key, not both")
            key = _check_int(key, "key", 1 << 64)
            seed_seq = SeedSequence(key)
        else:
            seed_seq = _seed_sequence(seed)
            key = key_from_seed_sequence(seed_seq)
        BitGenerator.__init__(self, seed_seq)
        self.position.fill = _current_words()
        self.position.exhausted = False
        self._seek(key, stream, 0)
        self.shared = True
        self._bitgen.state = <void*>&self.position
        self._bitgen.next_uint64 = &fastinit_next_uint64
        self._bitgen.next_uint32 = &fastinit_next_uint32
        self._bitgen.next_double = &fastinit_next_double
        self._bitgen.next_raw = &fastinit_next_raw

    cdef void _seek(self, uint64_t key, uint64_t stream, object word):
        """Move to word ``word`` (in [0, 2**66)) of ``stream``."""
        fastinit_seek(&self.position, key, stream, <uint64_t>(word >> 2), word & 3)

    # -- the Generator's stream numbers --------------------------------------------------------

    cdef int take_into(self, uint64_t* stream) except -1:
        if self.shared:
            with self.lock:
                return self._take(stream)
        return self._take(stream)

    cdef int _take(self, uint64_t* stream) except -1:
        cdef fastinit_position* p = &self.position
        cdef bint read = not fastinit_untouched(p)        # words of p.stream were read directly
        if p.exhausted or (read and p.stream == _LAST):
            raise OverflowError("this generator has used all 2**64 stream numbers")
        stream[0] = p.stream + read
        if stream[0] == _LAST:
            fastinit_seek(p, p.key, _LAST, 0, 0)
            p.exhausted = True
        else:
            fastinit_seek(p, p.key, stream[0] + 1, 0, 0)
        return 0

    def _take_stream(self):
        """Take the next whole stream, as a fastinit.Generator call does; return its number."""
        cdef uint64_t stream
        self.take_into(&stream)
        return stream

    @property
    def _next_stream(self):
        """The stream the next take returns (2**64 once they are all used)."""
        cdef fastinit_position* p = &self.position
        if p.exhausted:
            return 1 << 64
        return p.stream + (not fastinit_untouched(p))

    def _set_next_stream(self, key, stream):
        """Make ``stream`` (in [0, 2**64]; 2**64: all used) the next one taken, under ``key``."""
        with self.lock:
            self._move(key, stream, 0)

    cdef void _move(self, uint64_t key, object stream, object word):
        """Move to ``word`` of ``stream``; stream 2**64 (word 0) means every stream used."""
        if stream == 1 << 64:
            self._seek(key, _LAST, 0)
            self.position.exhausted = True
        else:
            self._seek(key, stream, word)

    def _untake(self, uint64_t stream, tuple before):
        """Undo a take of ``stream`` that failed, if no other take followed it."""
        cdef fastinit_position* p = &self.position
        with self.lock:
            if fastinit_untouched(p) and ((p.exhausted and stream == _LAST)
                              or (not p.exhausted and p.stream == stream + 1)):
                self._seek(p.key, before[0], before[1])
                p.exhausted = before[2]

    def _set_shared(self, bint shared):
        """Whether other code can reach this Philox (then stream takes hold its lock)."""
        self.shared = shared

    cdef object _word(self):
        return _word_at(self.position.next_block, self.position.pos)

    # -- BitGenerator API ----------------------------------------------------------------------

    @property
    def key(self):
        """The 64-bit Philox key (k0 in the low 32 bits, k1 in the high)."""
        return self.position.key

    @property
    def state(self):
        """``{"bit_generator": "fastinit.Philox", "state": {"key": K, "stream": s, "word": w}}``.

        Word ``w`` of stream ``s`` is read next; ``stream`` is 2**64 once a Generator has taken
        every stream number.  Setting it (a dict as returned) moves there.
        """
        with self.lock:
            stream = (1 << 64) if self.position.exhausted else self.position.stream
            return {"bit_generator": _NAME,
                    "state": {"key": self.position.key, "stream": stream, "word": self._word()}}

    @state.setter
    def state(self, value):
        if not isinstance(value, Mapping):
            raise TypeError(f"state must be a dict, got {type(value).__name__}")
        if value.get("bit_generator") != _NAME:
            raise ValueError(f"state must be for {_NAME}, got bit_generator "
                             f"{value.get('bit_generator')!r}")
        inner = value.get("state")
        if not isinstance(inner, Mapping) or not {"key", "stream", "word"} <= inner.keys():
            raise ValueError("state['state'] must be a dict with 'key', 'stream' and 'word'")
        key = _check_int(inner["key"], "state['state']['key']", 1 << 64)
        stream = _check_int(inner["stream"], "state['state']['stream']", (1 << 64) + 1,
                            "[0, 2**64] (2**64: every stream used)")
        word = _check_int(inner["word"], "state['state']['word']", _WORDS_PER_STREAM,
                          "[0, 2**66)")
        if stream == 1 << 64 and word:
            raise ValueError("state['state']['word'] must be 0 when every stream is used")
        with self.lock:
            self._move(key, stream, word)

    def advance(self, delta):
        """advance(delta)

        Skip ``delta`` words of the current stream, as if they had been read; returns self.

        Raises
        ------
        ValueError
            ``delta < 0``, or the stream's 2**66 words would be passed (use :meth:`jumped` for
            another stream).
        """
        delta = _count(delta, "delta")
        with self.lock:
            word = self._word() + delta
            if word >= _WORDS_PER_STREAM:
                raise ValueError(f"advancing by {delta} words passes the end of the stream "
                                 "(2**66 words); use jumped() to move to another stream")
            self._seek(self.position.key, self.position.stream, word)
        return self

    def jumped(self, jumps=1):
        """jumped(jumps=1)

        A new Philox at word 0 of stream ``stream + jumps``, with the same key and seed sequence:
        as if every remaining word of ``jumps`` streams had been read.  This one is unchanged.
        """
        jumps = _count(jumps, "jumps")
        with self.lock:
            stream = (1 << 64) if self.position.exhausted else self.position.stream
        if stream + jumps >= 1 << 64:
            raise ValueError(f"stream {stream} + {jumps} is past the last stream (2**64 - 1)")
        return Philox(self._seed_seq, key=None, stream=0)._moved(self.position.key,
                                                                 stream + jumps)

    def _moved(self, key, stream):
        self._seek(key, stream, 0)
        return self

    def __repr__(self):
        state = self.state["state"]
        return (f"Philox(key=0x{state['key']:016x}, stream={state['stream']}, "
                f"word={state['word']}) at 0x{id(self):X}")
