// The smallest guest: one write, exit 0.
#include <stdio.h>
int main(void) {
    printf("Hello from a static guest!\n");
    return 0;
}
