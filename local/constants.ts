export const LOCAL_REGION = 'us-east-1';
/** The emulators accept any credentials; these are not secrets. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
