#include <vox/vox.hpp>
#include <iostream>
int main() {
    std::cout << "vox-messenger " << vox::version() << ", ABI " << vox::abi_version() << "\n";
    return vox::abi_version() == VOX_ABI_VERSION ? 0 : 1;
}
