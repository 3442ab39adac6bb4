/// What names a futex word, as get_futex_key does: a word in a private
/// mapping by its mm and address (a copy-on-write break may move its page
/// to another run of the memory file, and another process's word at the
/// same address is another futex), one in a shared mapping by its offset in
/// the memory file, the same in every process that maps it.
public enum FutexKey: Hashable, Sendable {
    case shared(offset: UInt64)
    case `private`(mm: ObjectIdentifier, address: GuestAddress)
}
