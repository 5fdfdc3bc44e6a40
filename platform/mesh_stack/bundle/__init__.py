"""The offline bundle (`mesh bundle export|import`): every wheel, JVM archive and system package the
first setup and the first start would download, carried on a USB stick or in a local folder."""
