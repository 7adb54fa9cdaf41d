"""Building blocks of the kernel's in-memory adapters."""
