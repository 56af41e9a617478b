// dump_gelu_table: writes ggml's CPU GELU lookup table (65536 F16 values,
// indexed by the F16 bits of the input) to stdout as little-endian uint16.
#include <stdint.h>
#include <stdio.h>
extern uint16_t ggml_table_gelu_f16[1 << 16];
void ggml_cpu_init(void);
int main(void) {
    ggml_cpu_init();
    fwrite(ggml_table_gelu_f16, sizeof(uint16_t), 1 << 16, stdout);
    return 0;
}
