package tensor

import "os"

// NoAsmEnv names the environment variable that switches the assembly kernels
// off: set to a non-empty value other than "0" when the program starts, every
// kernel runs its pure-Go twin (the path of other architectures and of the
// purego build tag), with the same results bit for bit. It is read once, when
// the package is initialised.
const NoAsmEnv = "GLASSBOX_NOASM"

// asmOff tells whether NoAsmEnv switched the assembly kernels off.
var asmOff = noAsm(os.Getenv(NoAsmEnv))

func noAsm(v string) bool { return v != "" && v != "0" }

func init() { useAsm(!asmOff) }

// Kernels names the kernel families in use on this machine: "go" (pure Go:
// another architecture, the purego build tag, or NoAsmEnv), otherwise the
// instruction sets of the assembly kernels that run, such as
// "avx2+avx512+vnni".
func Kernels() string { return kernelSet() }
